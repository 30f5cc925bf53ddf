/**
 * The newest items of a list that grows for as long as a session runs, within a count and a length, for
 * snapshots that are never mutated. Items are added one at a time and published in batches: each
 * publication is one new array of at most `max` items (and a head), one copy per batch and never one
 * per item, and the oldest items beyond either bound fall out, each handed to `onDrop` once. Between
 * publications the items waiting are bounded too: past twice the bounds, the oldest fall out at once.
 */
export class BoundedList<T> {
  /** The last published array: `#head` (when there is one) at 0, the items from `#first` on. */
  #items: readonly T[] = [];
  #head: T | undefined;
  #first = 0;
  /** Where the kept items start in `#items` (older ones fell out after it was published). */
  #start = 0;
  /** The length of the kept items of `#items`. */
  #length = 0;
  #pending: T[] = [];
  #pendingLength = 0;

  constructor(
    readonly max: number,
    readonly maxLength: number,
    readonly lengthOf: (item: T) => number,
    readonly onDrop: (item: T) => void,
  ) {}

  /** Items kept, published or not. */
  get size(): number {
    return this.#items.length - this.#start + this.#pending.length;
  }

  add(item: T): void {
    this.#pending.push(item);
    this.#pendingLength += this.lengthOf(item);
    const pending = this.#pending.length;
    if (pending > 2 * this.max || (pending > 1 && this.#pendingLength > 2 * this.maxLength)) this.settle();
  }

  /**
   * The kept items after `head` (when given): a new array when items came or fell out or the head
   * changed since the last publication, the last array otherwise.
   */
  publish(head?: T): readonly T[] {
    this.settle();
    if (this.#pending.length === 0 && this.#start === this.#first && head === this.#head) return this.#items;
    const items = this.#items;
    const out: T[] = head === undefined ? [] : [head];
    for (let i = this.#start; i < items.length; i++) out.push(items[i] as T);
    for (const item of this.#pending) out.push(item);
    this.#items = out;
    this.#head = head;
    this.#first = this.#start = head === undefined ? 0 : 1;
    this.#length += this.#pendingLength;
    this.#pending = [];
    this.#pendingLength = 0;
    return out;
  }

  /** Lets the oldest items fall out until both bounds hold (the newest item stays, whatever its length). */
  settle(): void {
    let size = this.size;
    let length = this.#length + this.#pendingLength;
    const over = () => size > this.max || (size > 1 && length > this.maxLength);
    const drop = (item: T) => {
      const n = this.lengthOf(item);
      size--;
      length -= n;
      this.onDrop(item);
      return n;
    };
    while (this.#start < this.#items.length && over()) this.#length -= drop(this.#items[this.#start++] as T);
    let dropped = 0;
    while (dropped < this.#pending.length && over()) this.#pendingLength -= drop(this.#pending[dropped++] as T);
    if (dropped > 0) this.#pending.splice(0, dropped);
  }
}
