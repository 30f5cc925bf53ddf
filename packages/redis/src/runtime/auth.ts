/**
 * Messages between app instances and runtime nodes, signed with a secret they share (`secret` on both
 * sides). Anyone who can write to the Redis could otherwise queue a script of their own under a run the
 * app is waiting for (and it would call the app's tools), or hand a run a result or a tool reply it never
 * had. With a secret, each message goes as `<mac>.<sender>.<seq>.<text>`: the MAC (HMAC-SHA-256,
 * base64url) covers what kind of message it is, who sent it, its place in the sender's own order and
 * the text (which names the run), so a message is good only as the kind, from the sender and for the
 * run it was made for, and each side takes a run's messages from its peer only in rising order: an old
 * one again (a replay) is dropped like a forged one. Without a secret, messages go as they are.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { checkMessage } from '@enclave-kit/engine/isolation';
import { isId } from './protocol.js';

/** What a message is: a run as queued, app -> node, node -> app, and the two greetings of a direct connection. */
export type MessageKind = 'job' | 'to-node' | 'to-app' | 'hello' | 'welcome';

/** A signed message, opened: who sent it, its place in the sender's order, and the message itself. */
export interface Opened {
  sender: string;
  seq: number;
  text: string;
}

/** The envelope around the text: 43 characters of MAC, the sender's id, the seq; then a dot and the text. */
const ENVELOPE = /^([\w-]{43})\.([A-Za-z0-9_-]{8,64})\.([1-9]\d{0,15})\./;
/** The longest envelope, so that a message is measured before a MAC is computed over it. */
const ENVELOPE_CHARS = 43 + 1 + 64 + 1 + 16 + 1;

/** One side's signing and checking: `self` is its id, as the other side knows it. */
export class MessageAuth {
  readonly #key: Uint8Array;
  readonly #self: string;
  #seq = 0;

  constructor(key: Uint8Array, self: string) {
    this.#key = key;
    this.#self = self;
  }

  sign(kind: MessageKind, text: string): string {
    const seq = ++this.#seq;
    return `${this.#mac(kind, this.#self, seq, text).toString('base64url')}.${this.#self}.${seq}.${text}`;
  }

  /** The message if its MAC verifies for `kind` and it is at most `maxChars` long; undefined otherwise. */
  open(kind: MessageKind, wire: string | undefined, maxChars: number): Opened | undefined {
    if (wire === undefined || wire.length > maxChars + ENVELOPE_CHARS) return undefined;
    const m = ENVELOPE.exec(wire);
    if (m === null) return undefined;
    const [head, macText, sender, seqText] = m as unknown as [string, string, string, string];
    const seq = Number(seqText);
    if (!Number.isSafeInteger(seq) || !isId(sender)) return undefined;
    const text = wire.slice(head.length);
    const mac = Buffer.from(macText, 'base64url');
    const expected = this.#mac(kind, sender, seq, text);
    return mac.length === expected.length && timingSafeEqual(mac, expected) ? { sender, seq, text } : undefined;
  }

  #mac(kind: MessageKind, sender: string, seq: number, text: string): Buffer {
    return createHmac('sha256', this.#key).update(`enclave-runtime/1\n${kind}\n${sender}\n${seq}\n`).update(text).digest();
  }
}

/** The text inside a signed message, not verified: for a look at what it names before its MAC is computed. */
export function unverifiedText(wire: string): string | undefined {
  const m = ENVELOPE.exec(wire);
  return m === null ? undefined : wire.slice(m[0].length);
}

/** `text` signed as `kind` by `auth`; as it is without a secret. */
export function seal(auth: MessageAuth | undefined, kind: MessageKind, text: string): string {
  return auth === undefined ? text : auth.sign(kind, text);
}

/**
 * Whether an opened message (`from`) comes from `peer` and after the last one taken for the same run
 * (`last.seq`, which it then becomes): a replay of an earlier message, or another sender's, is not.
 */
export function inOrder(last: { seq: number }, from: { sender: string; seq: number }, peer: string): boolean {
  if (from.sender !== peer || from.seq <= last.seq) return false;
  last.seq = from.seq;
  return true;
}

/** A message between an app and a node as its receiver reads it: parsed, and who signed it (with a secret). */
export interface ReceivedMessage {
  message: unknown[];
  tail: string;
  /** The signer and its seq, for inOrder; undefined without a secret. */
  from: { sender: string; seq: number } | undefined;
}

/**
 * Reads `wire`, a message of `kind`: with a secret (`auth`) it must open (its MAC verifies) or it is
 * `'forged'`; then it is measured (at most `maxChars` characters and `maxValues` values, checked before
 * it is parsed) and parsed, or it is undefined. The receiver still checks that it is in order (inOrder).
 */
export function receiveMessage(auth: MessageAuth | undefined, kind: MessageKind, wire: string, maxChars: number, maxValues: number): ReceivedMessage | 'forged' | undefined {
  let text = wire;
  let from: ReceivedMessage['from'];
  if (auth !== undefined) {
    const opened = auth.open(kind, wire, maxChars);
    if (opened === undefined) return 'forged';
    ({ text, ...from } = opened);
  }
  try {
    return { ...checkMessage(text, maxChars, maxValues), from };
  } catch {
    return undefined;
  }
}
