// The anti-replay sliding window of RFC 6347 4.1.2.6: one per epoch, 64
// records wide. A record is marked only after it authenticated, so a forged
// record cannot close the window on a genuine one.

const WIDTH = 64;

export class ReplayWindow {
  /** Highest sequence number marked so far (-1: none). */
  private top = -1;
  /** Bit i set = sequence number top - i was received. */
  private bits = 0n;

  /** True if `seq` is new: above the window, or inside it and not yet received. */
  accepts(seq: number): boolean {
    if (seq > this.top) return true;
    const offset = this.top - seq;
    if (offset >= WIDTH) return false;
    return ((this.bits >> BigInt(offset)) & 1n) === 0n;
  }

  mark(seq: number): void {
    if (seq > this.top) {
      const shift = this.top < 0 ? WIDTH : seq - this.top;
      this.bits = shift >= WIDTH ? 1n : ((this.bits << BigInt(shift)) | 1n) & ((1n << BigInt(WIDTH)) - 1n);
      this.top = seq;
      return;
    }
    const offset = this.top - seq;
    if (offset < WIDTH) this.bits |= 1n << BigInt(offset);
  }
}
