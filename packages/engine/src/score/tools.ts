import type { ToolRisk, ToolRiskTag } from './types.js';

/**
 * What a tool does, as far as risk goes. `egress`: data leaves the system; `destructive`: deletes or
 * overwrites; `write`: changes internal state; `read`: reads; `unknown`: the name is not known before
 * the script runs.
 */
export type ToolKind = 'read' | 'write' | 'destructive' | 'egress' | 'unknown';

export interface ToolProfile {
  kind: ToolKind;
  /** Reads many records at once (exports, dumps, "all"). */
  bulk: boolean;
  /** Returns or handles credentials, identity or payment data. */
  sensitive: boolean;
  /** Changes permissions, roles, keys or security settings. */
  privileged: boolean;
  /** Deletes or silences audit trails, logs, alerts or monitoring. */
  coversTracks: boolean;
  /** The kind came from the host's metadata rather than from the name. */
  declared: boolean;
}

export const TOOL_RISK_TAGS: readonly ToolRiskTag[] = [
  'egress',
  'send',
  'email',
  'post',
  'webhook',
  'upload',
  'export',
  'notify',
  'destructive',
  'delete',
  'write',
  'read',
  'bulk',
  'sensitive',
  'privileged',
];

const EGRESS_TAGS = new Set<string>(['egress', 'send', 'email', 'post', 'webhook', 'upload', 'export', 'notify']);
const DESTRUCTIVE_TAGS = new Set<string>(['destructive', 'delete']);

const words = (s: string) => new Set(s.split(' '));

// Names are split into lowercase words (`sendEmail` -> send, email; `users:list` -> users, list) and
// matched whole, so `posts:list` does not "post" and `emails:search` does not "email".
const DESTRUCTIVE = words('delete remove destroy purge drop wipe truncate erase unlink rm del clear shred');
/** Verbs and channels by which data leaves the system. HTTP tools count whatever their verb: a URL carries data. */
const EGRESS = words(
  'send post notify upload publish share forward transmit tweet broadcast dispatch sms mail email webhook webhooks http https curl request smtp exfiltrate beacon paste dm',
);
const WRITE = words(
  'update create set write put patch insert add assign grant transfer pay refund charge move rename upsert save close reopen approve invite enable disable reset rotate merge mute suppress silence pause escalate',
);
/** Egress channels a read verb can qualify: `email:search` reads a mailbox. */
const EGRESS_CHANNELS = words('email mail sms');
const READ = words('get list search query find fetch read lookup check count describe scan load show view stats report summary history rate status chart');
const BULK = words('dump all everything backup bulk batch export exportall listall full');
const SENSITIVE = words('secret secrets password passwords credential credentials vault token tokens apikey apikeys ssn privatekey');
const PRIVILEGED = words('permission permissions role roles admin admins grant acl acls policy policies apikey apikeys token tokens credential credentials mfa 2fa sso access sudo owner owners');
const AUDIT = words('audit audits log logs trail trails alert alerts monitor monitoring security firewall siem');
const SILENCE = words('disable mute suppress silence pause');

/** Lowercase words of a tool name: separators and camelCase boundaries split. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

const anyIn = (ws: readonly string[], set: Set<string>) => ws.some((w) => set.has(w));

function kindFromName(ws: readonly string[]): ToolKind {
  if (anyIn(ws, DESTRUCTIVE)) return 'destructive';
  const channelOnly = ws.every((w) => !EGRESS.has(w) || EGRESS_CHANNELS.has(w));
  if (anyIn(ws, EGRESS) && !(channelOnly && anyIn(ws, READ))) return 'egress';
  if (anyIn(ws, WRITE)) return 'write';
  // Most tools read; a name with no known verb (`org:chart`, `fx:rate`) is judged a read.
  return 'read';
}

function kindFromMeta(risk: ToolRisk, fromName: ToolKind): ToolKind {
  const tags = risk.tags ?? [];
  if (risk.sideEffect === false) return 'read';
  if (tags.some((t) => DESTRUCTIVE_TAGS.has(t))) return 'destructive';
  if (tags.some((t) => EGRESS_TAGS.has(t))) return 'egress';
  if (tags.includes('write')) return 'write';
  if (risk.sideEffect === true) return fromName === 'read' ? 'write' : fromName;
  if (tags.includes('read')) return 'read';
  return fromName;
}

/** Profiles a tool by the host's metadata where there is some, else by its name. */
export function profileTool(name: string, meta: Readonly<Record<string, ToolRisk>> | undefined): ToolProfile {
  const ws = nameWords(name);
  const fromName = kindFromName(ws);
  const risk = meta && Object.prototype.hasOwnProperty.call(meta, name) ? meta[name] : undefined;
  const kind = risk ? kindFromMeta(risk, fromName) : fromName;
  const tags = risk?.tags ?? [];
  const changes = kind === 'write' || kind === 'destructive';
  return {
    kind,
    bulk: tags.includes('bulk') || (kind === 'read' && anyIn(ws, BULK)),
    sensitive: tags.includes('sensitive') || anyIn(ws, SENSITIVE),
    privileged: tags.includes('privileged') || (changes && anyIn(ws, PRIVILEGED)),
    coversTracks: anyIn(ws, AUDIT) && (kind === 'destructive' || (changes && anyIn(ws, SILENCE))),
    declared: risk !== undefined,
  };
}

/** Profile of a tool whose name is only known at run time; `hint` holds the static parts of the name. */
export function profileDynamicTool(hint: string): ToolProfile {
  const ws = nameWords(hint);
  // `${type}:get` still says what it does; a name with no known verb could be anything.
  const kind = anyIn(ws, DESTRUCTIVE) || anyIn(ws, EGRESS) || anyIn(ws, WRITE) || anyIn(ws, READ) ? kindFromName(ws) : 'unknown';
  return { kind, bulk: false, sensitive: false, privileged: false, coversTracks: false, declared: false };
}

/** True for the kinds that change something or let data out. */
export function isSink(kind: ToolKind): boolean {
  return kind === 'egress' || kind === 'destructive' || kind === 'write';
}
