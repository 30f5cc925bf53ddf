import { nameWords } from './tools.js';

export type SensitiveCategory = 'credential' | 'identity' | 'payment';

// Matched as whole words of a name (`client_secret`, `userPassword`), so `secretary` and
// `businessName` do not match.
const WORD_TERMS: ReadonlyMap<string, SensitiveCategory> = new Map([
  ...['password', 'passwords', 'passwd', 'passphrase', 'pwd', 'secret', 'secrets', 'token', 'tokens', 'credential', 'credentials', 'cookie', 'cookies', 'bearer', 'mnemonic', 'otp', 'jwt', 'pin'].map(
    (w) => [w, 'credential'] as const,
  ),
  ...['ssn', 'passport', 'dob'].map((w) => [w, 'identity'] as const),
  ...['cvv', 'cvc', 'iban'].map((w) => [w, 'payment'] as const),
]);
// Matched in the words run together (`api_key`, `apiKey`, `API-KEY` are all `apikey`).
const JOINED_TERMS: readonly (readonly [RegExp, SensitiveCategory])[] = [
  [/apikey|accesskey|privatekey|secretkey|signingkey|sessionid|seedphrase|recoverycode|sshkey/, 'credential'],
  [/socialsecurity|driverslicen[cs]e|driverlicen[cs]e|nationalid|taxid|dateofbirth|birthdate/, 'identity'],
  [/cardnumber|creditcard|debitcard|ccnumber|routingnumber|accountnumber|bankaccount|sortcode|securitycode/, 'payment'],
];
// Tokens that count words or pages, not secrets.
const BENIGN_TOKEN = /(page|next|continuation|sync|cursor|max|total|input|output|prompt|completion)tokens?|tokens?(count|used|usage|limit|total|budget)/;

// Every term above contains one of these: most names fail this one test and cost nothing more.
const ANY_TERM = /pass|pwd|secret|token|cred|cookie|bearer|mnemonic|otp|jwt|pin|ssn|dob|cvv|cvc|iban|key|session|seed|recovery|social|licen|national|tax|birth|card|routing|account|sort|security/i;

/** The category of a sensitive name (identifier, property key or field-name string), if it is one. */
export function sensitiveName(name: string): SensitiveCategory | undefined {
  if (name.length > 64 || !ANY_TERM.test(name)) return undefined;
  const ws = nameWords(name);
  const joined = ws.join('');
  for (const w of ws) {
    const cat = WORD_TERMS.get(w);
    if (cat === undefined) continue;
    if ((w === 'token' || w === 'tokens') && BENIGN_TOKEN.test(joined)) continue;
    return cat;
  }
  for (const [re, cat] of JOINED_TERMS) if (re.test(joined)) return cat;
  return undefined;
}

/** A string that reads like a field name rather than prose: no spaces, short. */
export function looksLikeFieldName(s: string): boolean {
  return s.length > 1 && s.length <= 48 && !/\s/.test(s);
}

function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

const CARD = /(?:^|[^\d])((?:\d[ -]?){12,18}\d)(?:$|[^\d])/;
const SSN = /(?:^|[^\d-])\d{3}-\d{2}-\d{4}(?:$|[^\d-])/;
const IBAN = /(?:^|[^A-Za-z0-9])[A-Z]{2}\d{2}[A-Z0-9]{11,30}(?:$|[^A-Za-z0-9])/;
/*
 * These patterns run over script-chosen text on the host, before the run and outside its deadline, so
 * each must take time linear in the text. A pattern that starts with a quantified run and can fail after
 * it is tried again from every later position of that run by V8's backtracking engine: quadratic. Such
 * shapes are scanned by hand below (jwtShape, the e-mail loop in destinations), with the same answers:
 * `eyJ[...]{8,}\.` over 'eyJeyJ...' with no dot, and the e-mail local part over 'aaa...@' with no
 * domain, took seconds for a 4 KB literal, and a 30 KB script naming one such constant in 1,000 tool
 * calls blocked the host for 37 s at STRICT, where the gate is on by default.
 */
const KEY_SHAPES = /sk_live_|rk_live_|sk-[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{20,}|xox[abprs]-|AIza[0-9A-Za-z_-]{30,}|glpat-|-----BEGIN [A-Z ]*PRIVATE KEY-----/;
const TOKEN_RUN = /[A-Za-z0-9_-]+/g;

/**
 * Whether `s` holds `eyJ` + 8 or more token characters + `.` + `eyJ` + 8 or more + `.` (a JWT's header
 * and payload), as the regular expression of that text would find it, in one pass over the runs of
 * token characters: every `eyJ` of a run ends where the run ends, so the run's first `eyJ` is the one to try.
 */
function jwtShape(s: string): boolean {
  let previousOk = false;
  let previousEnd = -2;
  for (const m of s.matchAll(TOKEN_RUN)) {
    const run = m[0];
    const start = m.index;
    const end = start + run.length;
    // This run is a payload if it starts right after a header run's dot and is itself followed by a dot.
    if (previousOk && start === previousEnd + 1 && run.startsWith('eyJ') && run.length >= 11 && s[end] === '.') return true;
    const at = run.indexOf('eyJ');
    previousOk = at >= 0 && run.length - at >= 11 && s[end] === '.';
    previousEnd = end;
  }
  return false;
}

/** What kind of secret or personal number a string literal holds, if any. */
export function sensitiveValue(s: string): string | undefined {
  if (s.length > 4096) return undefined;
  if (KEY_SHAPES.test(s) || jwtShape(s)) return 'a credential (API key, token or private key)';
  const card = CARD.exec(s);
  if (card) {
    const digits = (card[1] as string).replace(/[ -]/g, '');
    if (digits.length >= 13 && digits.length <= 19 && luhn(digits) && !/^(\d)\1+$/.test(digits)) return 'a payment card number';
  }
  if (SSN.test(s)) return 'a social security number';
  if (IBAN.test(s)) return 'a bank account number (IBAN)';
  return undefined;
}

/** A destination written into the script: a URL's host or an e-mail address's domain. */
export interface Destination {
  /** Lowercase host or mail domain. */
  host: string;
  /** The URL or address, shortened for messages. */
  text: string;
  kind: 'url' | 'email';
}

const URL_RE = /\b(?:https?|wss?|ftp):\/\/(?:[^\s/@:]+(?::[^\s/@]*)?@)?([^\s/:?#'"`]+)/gi;
/** An e-mail address's domain, matched at the character after its `@` (see mailAddresses). */
const MAIL_DOMAIN = /[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/y;
const MAIL_LOCAL = /[A-Za-z0-9._%+-]/;

/**
 * The e-mail addresses in `s`, left to right, as `/[A-Za-z0-9._%+-]+@(domain)/g` finds them, in one
 * pass: the local part of a match is the run of local characters just before an `@` (cut at the end of
 * the previous match), and no domain reaches past the next `@`.
 */
function* mailAddresses(s: string): Generator<{ text: string; domain: string; index: number }> {
  let from = 0;
  for (let at = s.indexOf('@'); at >= 0; at = s.indexOf('@', at + 1)) {
    let start = at;
    while (start > from && MAIL_LOCAL.test(s[start - 1] as string)) start--;
    if (start === at) continue;
    MAIL_DOMAIN.lastIndex = at + 1;
    const domain = MAIL_DOMAIN.exec(s);
    if (domain === null) continue;
    const end = at + 1 + domain[0].length;
    yield { text: s.slice(start, end), domain: domain[0], index: start };
    from = end;
    at = end - 1;
  }
}

/** URLs and e-mail addresses in a string literal (at most a few: one is enough to judge). */
export function destinations(s: string): Destination[] {
  if (s.length > 4096 || (!s.includes('://') && !s.includes('@'))) return [];
  const out: Destination[] = [];
  for (const m of s.matchAll(URL_RE)) {
    out.push({ host: (m[1] as string).toLowerCase(), text: shorten(m[0]), kind: 'url' });
    if (out.length >= 4) return out;
  }
  for (const m of mailAddresses(s)) {
    if (/^[a-z]+:\/\//i.test(s.slice(Math.max(0, m.index - 12), m.index))) continue;
    out.push({ host: m.domain.toLowerCase(), text: shorten(m.text), kind: 'email' });
    if (out.length >= 4) break;
  }
  return out;
}

// Services whose purpose is catching requests or pasting text, and throwaway or anonymous mailboxes:
// no ordinary tool call sends company data there.
const DROP_HOSTS = [
  'webhook.site',
  'requestbin.com',
  'requestbin.net',
  'pipedream.net',
  'ngrok.io',
  'ngrok.app',
  'ngrok-free.app',
  'pastebin.com',
  'hastebin.com',
  'paste.ee',
  'ghostbin.com',
  'transfer.sh',
  'burpcollaborator.net',
  'oastify.com',
  'interact.sh',
  'interactsh.com',
  'canarytokens.com',
  'beeceptor.com',
  'requestcatcher.com',
  'hookbin.com',
  'postb.in',
  'mockbin.org',
  'serveo.net',
  'localtunnel.me',
  'loca.lt',
  'trycloudflare.com',
  'mailinator.com',
  'guerrillamail.com',
  'temp-mail.org',
  'protonmail.com',
  'proton.me',
  'tutanota.com',
  'discord.com',
  'discordapp.com',
  'telegram.org',
];

// Personal mailboxes: an agent has no reason to send company data to a fixed private address.
const PERSONAL_MAIL = ['gmail.com', 'googlemail.com', 'yahoo.com', 'outlook.com', 'hotmail.com', 'live.com', 'icloud.com', 'aol.com', 'gmx.com', 'gmx.net', 'yandex.com', 'yandex.ru', 'mail.ru', 'qq.com', '163.com', 'zoho.com'];

/** True for the mail domains of free personal mailboxes. */
export function personalMailbox(host: string): boolean {
  return PERSONAL_MAIL.some((d) => hostMatches(host, d));
}

export function hostMatches(host: string, domain: string): boolean {
  return host === domain || host.endsWith(`.${domain}`);
}

/** Why a destination is a known drop point, if it is one. */
export function dropPoint(host: string): string | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith('[')) return 'a raw IP address';
  const d = DROP_HOSTS.find((x) => hostMatches(host, x));
  return d === undefined ? undefined : `a request-catching, paste or anonymous service (${d})`;
}

export function shorten(s: string, max = 48): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
