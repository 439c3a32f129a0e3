// One mutation at a time: copy-ups await their data copy off the JS thread, and no other
// change may interleave with a half-done multi-step one. Lookups and reads never wait.
export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  /** changes queued or under way */
  private held = 0;
  private readonly release = (): void => void this.held--;

  run<T>(fn: () => T | Promise<T>): Promise<T> {
    this.held++;
    const result = this.tail.then(fn);
    this.tail = result.then(this.release, this.release);
    return result;
  }

  /** run, but at once when nothing holds the lock: a change with nothing to wait for (most
   * of them: no copy-up) answers in the same turn, without a promise and a microtask per
   * request. A change that goes async holds the lock until it settles. */
  runNow<T>(fn: () => T | Promise<T>): T | Promise<T> {
    if (this.held > 0) return this.run(fn);
    const v = fn();
    if (v instanceof Promise) {
      this.held++;
      this.tail = v.then(this.release, this.release);
    }
    return v;
  }
}

/** f of v, at once when v is a value, after it when v is a promise */
export function andThen<T, U>(v: T | Promise<T>, f: (x: T) => U | Promise<U>): U | Promise<U> {
  return v instanceof Promise ? v.then(f) : f(v);
}
