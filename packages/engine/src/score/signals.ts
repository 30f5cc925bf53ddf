import type { ParsedSource } from '../ast/parse.js';
import { userLocation } from '../ast/parse.js';
import type { Features, ObfuscationKind, ToolCall } from './features.js';
import type { Destination } from './patterns.js';
import { destinations, dropPoint, hostMatches, personalMailbox, sensitiveValue, shorten } from './patterns.js';
import { isSink } from './tools.js';
import type { ScoringSignal } from './types.js';

/**
 * Points per signal. A signal fires at most once per script (its message names the first place it
 * was seen and how many more there are); the rule score is the sum, capped at 100.
 */
export const SIGNAL_WEIGHTS = {
  /** Names of credentials, identity or payment fields (`password`, `apiKey`, `ssn`, `cardNumber`). */
  'sensitive-name': 10,
  /** Each further distinct sensitive name, up to `sensitive-name-max` in all. */
  'sensitive-name-extra': 5,
  'sensitive-name-max': 20,
  /** A literal that is a card number, SSN, IBAN or API key / private key. */
  'sensitive-value': 20,
  /** A tool whose name or tags say it returns secrets (`vault:read`, `tokens:list`). */
  'sensitive-source': 10,
  /** Tool results reach the arguments of a tool that sends data out. */
  'data-to-egress': 20,
  /** ... and those results come from a collection read (`list`, `search`, `export`). */
  'bulk-to-egress': 10,
  /** ... and they are every record of an unfiltered collection read (also into a tool named at run time). */
  'all-records-to-egress': 25,
  /** Sensitive fields reach a tool that sends data out. */
  'sensitive-to-egress': 30,
  /** A tool that sends data out gets a URL or address written in the script (unknown trust). */
  'outside-destination': 15,
  /** ... when `trustedDomains` is configured and the destination is not among them (also for writes). */
  'untrusted-destination': 30,
  /** A fixed personal mailbox (gmail.com, outlook.com, ...) given to a tool that sends or writes. */
  'personal-mailbox': 30,
  /** A request catcher, paste site, anonymous mailbox or raw IP anywhere in tool arguments. */
  'drop-destination': 40,
  /** Obfuscated text reaches a tool that sends or changes data. */
  'obfuscated-to-sink': 20,
  /** A tool that sends data out is called once per record (inside a loop or callback). */
  'egress-in-loop': 10,
  /** A destructive tool is called inside a loop or callback. */
  'destructive-in-loop': 20,
  /** ... on every record of an unfiltered collection read, with no condition. */
  'mass-destructive': 50,
  /** Three or more distinct tools that send data out or destroy it. */
  'many-sinks': 15,
  /** A read asks for everything (`limit: 100000`, `'*'`, `all: true`, `dump`, `export`). */
  'bulk-read': 15,
  /** A tool name built from pieces or decoded at run time. */
  'hidden-tool-name': 35,
  /** A tool name computed from data, with no verb that says what it does. */
  'dynamic-tool-name': 10,
  /** Tool results reach a tool whose name is only known at run time. */
  'data-to-unknown-tool': 10,
  /** A write stores a fixed outside address (personal, untrusted or drop) in a record: contact or recovery redirected. */
  'contact-redirect': 40,
  /** Roles, permissions, keys or access changed (`role: 'admin'`, `permissions:grant`). */
  'privilege-change': 25,
  /** Audit logs, alerts or monitoring deleted or silenced. */
  'cover-tracks': 35,
  /** Obfuscation idioms; the first kind counts fully, each further kind adds 10, up to `obfuscation-max`. */
  'char-codes': 25,
  decoding: 25,
  'reversed-string': 20,
  'string-pieces': 20,
  'escaped-string': 15,
  'encoded-blob': 10,
  'obfuscation-extra': 10,
  'obfuscation-max': 45,
  /** Two or more families of abuse in one script (exfiltration, destruction, privilege, cover-up, obfuscation). */
  'compound-risk': 15,
} as const;

const W = SIGNAL_WEIGHTS;

export interface SignalOptions {
  trustedDomains: readonly string[] | undefined;
}

const name = (c: ToolCall) => (c.name !== undefined ? `\`${shorten(c.name)}\`` : c.form === 'template' ? `a tool named at run time (\`${shorten(c.label.trim() || '?')}\`)` : 'a tool named at run time');
const more = (n: number, what: string) => (n > 0 ? ` (and ${n} more ${what})` : '');
const plural = (n: number, s: string) => `${n} ${s}${n === 1 ? '' : 's'}`;

/** Judges the features of one script: every signal that fires, strongest first. */
export function computeSignals(parsed: ParsedSource, f: Features, options: SignalOptions): ScoringSignal[] {
  const out: ScoringSignal[] = [];
  const at = (offset: number) => userLocation(parsed, offset);
  const add = (id: string, weight: number, message: string, offset: number): void => {
    out.push({ id, weight, message, location: at(offset) });
  };
  const firstBy = (pred: (c: ToolCall) => boolean) => f.calls.filter(pred);
  const sourceList = (c: ToolCall) => {
    const names = [...new Set([...c.flow.tools].map((i) => f.calls[i]).filter((s): s is ToolCall => s !== undefined && s !== c).map(name))];
    return names.slice(0, 3).join(', ') + more(names.length - 3, 'tools');
  };

  // ---- sensitive data -------------------------------------------------------------------------
  if (f.sensitiveNames.length > 0) {
    const first = f.sensitiveNames[0] as (typeof f.sensitiveNames)[number];
    const weight = Math.min(W['sensitive-name-max'], W['sensitive-name'] + W['sensitive-name-extra'] * (f.sensitiveNames.length - 1));
    const names = f.sensitiveNames.slice(0, 4).map((s) => `\`${shorten(s.name, 32)}\``).join(', ');
    add('sensitive-name', weight, `Names ${plural(f.sensitiveNames.length, 'sensitive field')} (${first.category} data): ${names}${f.sensitiveNames.length > 4 ? ', ...' : ''}.`, first.at);
  }
  const valueHits = f.literals.map((l) => ({ l, what: sensitiveValue(l.value) })).filter((x) => x.what !== undefined);
  if (valueHits.length > 0) {
    const first = valueHits[0] as (typeof valueHits)[number];
    add('sensitive-value', W['sensitive-value'], `A string literal holds ${first.what}${more(valueHits.length - 1, 'such literals')}.`, first.l.at);
  }
  const sensitiveSources = firstBy((c) => c.profile.sensitive && c.profile.kind === 'read');
  if (sensitiveSources[0]) {
    add('sensitive-source', W['sensitive-source'], `Reads secrets with ${name(sensitiveSources[0])}${more(sensitiveSources.length - 1, 'such calls')}.`, sensitiveSources[0].node.start);
  }

  // ---- flows into tools that send data out ------------------------------------------------------
  const egress = firstBy((c) => c.profile.kind === 'egress');
  const fed = egress.filter((c) => [...c.flow.tools].some((i) => i !== c.index));
  if (fed[0]) {
    const c = fed[0];
    add('data-to-egress', W['data-to-egress'], `Data returned by ${sourceList(c)} flows into ${name(c)}, which sends it out of the system${more(fed.length - 1, 'such flows')}.`, c.node.start);
    const all = [...fed, ...f.calls.filter((u) => u.profile.kind === 'unknown')].find((e) => e.flow.raw.size > 0);
    const bulk = fed.find((e) => e.flow.collection);
    if (all) {
      add('all-records-to-egress', W['all-records-to-egress'], `Every record of an unfiltered read reaches ${name(all)}: nothing selects which records leave.`, all.node.start);
    } else if (bulk) {
      add('bulk-to-egress', W['bulk-to-egress'], `Records from a collection read (list, search or export) reach ${name(bulk)}.`, bulk.node.start);
    }
    const sensitive = fed.find((e) => e.flow.sensitive !== undefined);
    if (sensitive?.flow.sensitive) {
      add('sensitive-to-egress', W['sensitive-to-egress'], `Sensitive ${sensitive.flow.sensitive.category} data (\`${shorten(sensitive.flow.sensitive.name, 32)}\`) reaches ${name(sensitive)}, which sends it out.`, sensitive.node.start);
    }
  }

  // ---- destinations written into the script ---------------------------------------------------------
  const trusted = options.trustedDomains;
  let drop: { text: string; why: string; call: ToolCall } | undefined;
  let outside: { text: string; call: ToolCall } | undefined;
  let personal: { text: string; call: ToolCall } | undefined;
  let redirect: { text: string; call: ToolCall } | undefined;
  // One string reaches many calls (a constant named in each): it is read once, not once per call and
  // place, which for a 4 KB constant named in 1,000 calls was 16,000 scans of it.
  const found = new Map<string, Destination[]>();
  const destinationsOf = (s: string): Destination[] => {
    let d = found.get(s);
    if (d === undefined) found.set(s, (d = destinations(s)));
    return d;
  };
  for (const c of f.calls) {
    // With trusted domains known, a write that records an outside address (an account's e-mail) counts too.
    const sends = c.profile.kind === 'egress' || c.profile.kind === 'unknown' || (trusted !== undefined && c.profile.kind === 'write');
    for (const s of c.flow.strings) {
      for (const d of destinationsOf(s)) {
        if (trusted?.some((t) => hostMatches(d.host, t))) continue;
        const why = dropPoint(d.host);
        if (c.profile.kind === 'write' && (why !== undefined || trusted !== undefined || (d.kind === 'email' && personalMailbox(d.host)))) redirect ??= { text: d.text, call: c };
        if (why !== undefined) drop ??= { text: d.text, why, call: c };
        else if (d.kind === 'email' && personalMailbox(d.host) && (sends || c.profile.kind === 'write')) personal ??= { text: d.text, call: c };
        else if (sends) outside ??= { text: d.text, call: c };
      }
    }
  }
  if (drop) {
    add('drop-destination', W['drop-destination'], `${name(drop.call)} is given \`${drop.text}\`, ${drop.why}.`, drop.call.node.start);
  }
  if (personal && (!drop || personal.call !== drop.call)) {
    add('personal-mailbox', W['personal-mailbox'], `${name(personal.call)} is given the personal mailbox \`${personal.text}\`, written into the script.`, personal.call.node.start);
  } else if (outside && (!drop || outside.call !== drop.call)) {
    if (trusted) {
      add('untrusted-destination', W['untrusted-destination'], `${name(outside.call)} sends to \`${outside.text}\`, outside the trusted domains (${trusted.slice(0, 3).join(', ')}).`, outside.call.node.start);
    } else {
      add('outside-destination', W['outside-destination'], `${name(outside.call)} sends to \`${outside.text}\`, a destination written into the script (set trustedDomains to vouch for your own).`, outside.call.node.start);
    }
  }
  if (redirect) {
    add('contact-redirect', W['contact-redirect'], `${name(redirect.call)} stores the outside address \`${redirect.text}\` in a record.`, redirect.call.node.start);
  }
  const hidden = firstBy((c) => isSink(c.profile.kind) && c.flow.obfuscated);
  if (hidden[0]) {
    add('obfuscated-to-sink', W['obfuscated-to-sink'], `Text decoded or assembled at run time reaches ${name(hidden[0])}.`, hidden[0].node.start);
  }

  // ---- volume ---------------------------------------------------------------------------------------
  const egressLoop = egress.find((c) => c.inLoop);
  if (egressLoop) {
    add('egress-in-loop', W['egress-in-loop'], `${name(egressLoop)} sends data out once per item of a loop or callback.`, egressLoop.node.start);
  }
  const destructiveLoop = firstBy((c) => c.profile.kind === 'destructive' && c.inLoop);
  const mass = destructiveLoop.find((c) => c.flow.raw.size > 0 && !c.conditional);
  if (mass) {
    add('mass-destructive', W['mass-destructive'], `${name(mass)} runs on every record of an unfiltered read, with no condition.`, mass.node.start);
  }
  if (destructiveLoop[0]) {
    add('destructive-in-loop', W['destructive-in-loop'], `${name(destructiveLoop[0])} deletes or overwrites once per item of a loop or callback.`, destructiveLoop[0].node.start);
  }
  const sinkNames = new Set(f.calls.filter((c) => c.profile.kind === 'egress' || c.profile.kind === 'destructive').map((c) => c.name ?? c.label));
  if (sinkNames.size >= 3) {
    const c = f.calls.find((x) => x.profile.kind === 'egress' || x.profile.kind === 'destructive') as ToolCall;
    add('many-sinks', W['many-sinks'], `Calls ${sinkNames.size} different tools that send data out or destroy it.`, c.node.start);
  }
  const bulkRead = f.calls.find((c) => c.profile.kind === 'read' && (c.bulkArgs !== undefined || c.profile.bulk));
  if (bulkRead) {
    const why = bulkRead.bulkArgs !== undefined ? `asks for everything (\`${bulkRead.bulkArgs}\`)` : 'reads everything at once';
    add('bulk-read', W['bulk-read'], `${name(bulkRead)} ${why}.`, bulkRead.node.start);
  }

  // ---- tool names and tool kinds ----------------------------------------------------------------------
  const hiddenName = f.calls.find((c) => c.form === 'pieces' || c.form === 'encoded');
  if (hiddenName) {
    const what = hiddenName.name !== undefined ? ` (it spells \`${shorten(hiddenName.name)}\`)` : '';
    add('hidden-tool-name', W['hidden-tool-name'], `A tool name is built from pieces or decoded at run time${what}: nothing a reader can check.`, hiddenName.node.start);
  }
  const unknown = f.calls.filter((c) => c.profile.kind === 'unknown' && c.form !== 'pieces' && c.form !== 'encoded');
  if (unknown[0]) {
    add('dynamic-tool-name', W['dynamic-tool-name'], `A tool name comes from data and says nothing about what the tool does${more(unknown.length - 1, 'such calls')}.`, unknown[0].node.start);
    const fedUnknown = unknown.find((c) => [...c.flow.tools].some((i) => i !== c.index));
    if (fedUnknown) {
      add('data-to-unknown-tool', W['data-to-unknown-tool'], `Data returned by ${sourceList(fedUnknown)} flows into a tool whose name is only known at run time.`, fedUnknown.node.start);
    }
  }
  const privileged = f.calls.find((c) => isSink(c.profile.kind) && (c.grantsPrivilege !== undefined || c.profile.privileged));
  if (privileged) {
    const why = privileged.grantsPrivilege !== undefined ? `with \`${privileged.grantsPrivilege}\`` : 'changes permissions, roles or keys';
    add('privilege-change', W['privilege-change'], `${name(privileged)} ${why}.`, privileged.node.start);
  }
  const cover = f.calls.find((c) => c.profile.coversTracks);
  if (cover) add('cover-tracks', W['cover-tracks'], `${name(cover)} deletes or silences audit logs, alerts or monitoring.`, cover.node.start);

  // ---- obfuscation ------------------------------------------------------------------------------------
  const kinds = new Map<ObfuscationKind, (typeof f.obfuscations)[number][]>();
  for (const o of f.obfuscations) {
    const list = kinds.get(o.kind);
    if (list) list.push(o);
    else kinds.set(o.kind, [o]);
  }
  const ranked = [...kinds.entries()].sort((a, b) => W[b[0]] - W[a[0]]);
  let budget: number = W['obfuscation-max'];
  ranked.forEach(([kind, list], i) => {
    const weight = Math.min(budget, i === 0 ? W[kind] : Math.min(W[kind], W['obfuscation-extra']));
    budget -= weight;
    const first = list[0] as (typeof list)[number];
    add(kind, weight, `Obfuscation: ${first.detail}${more(list.length - 1, 'times')}.`, first.at);
  });

  const fired = new Set(out.map((s) => s.id));
  const families = [
    ['sensitive-to-egress', 'drop-destination', 'personal-mailbox', 'untrusted-destination', 'all-records-to-egress'],
    ['mass-destructive'],
    ['privilege-change', 'contact-redirect'],
    ['cover-tracks'],
    ['hidden-tool-name', 'obfuscated-to-sink'],
  ].filter((ids) => ids.some((id) => fired.has(id)));
  if (families.length >= 2) {
    const first = out.find((s) => families.some((ids) => ids.includes(s.id))) as ScoringSignal;
    add('compound-risk', W['compound-risk'], `Combines ${families.length} kinds of abuse (${families.map((ids) => ids.find((id) => fired.has(id))).join(', ')}).`, 0);
    (out[out.length - 1] as ScoringSignal).location = first.location;
  }

  return out.filter((s) => s.weight > 0).sort((a, b) => b.weight - a.weight || (a.location?.line ?? 0) - (b.location?.line ?? 0));
}
