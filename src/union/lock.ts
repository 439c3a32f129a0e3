// One mutation at a time: copy-ups await their data copy off the JS thread, and no other
// change may interleave with a half-done multi-step one. Lookups and reads never wait.
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  run<T>(fn: () => T | Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
