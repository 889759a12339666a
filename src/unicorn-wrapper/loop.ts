import type { Follower, Outcome } from './follow';

/**
 * unicorn's master loop, for the wrapper: a pass now and then, at once when a signal or the
 * child's exit wakes it. Passes never overlap; nothing else in the wrapper changes state.
 */
export function runLoop(follower: Follower, done: (outcome: Outcome) => void): { wake(): void } {
  let timer: NodeJS.Timeout | undefined;
  let finished = false;
  const schedule = (ms: number) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(run, ms);
  };
  const run = () => {
    timer = undefined;
    if (finished) return;
    let outcome: Outcome | undefined;
    try {
      outcome = follower.pass();
    } finally {
      // Even a pass that threw past its own guards must not end the loop: init would be left
      // tracking a wrapper that no longer follows anything.
      if (!outcome) schedule(follower.hasQueued() ? 0 : follower.delayMs());
    }
    if (outcome) {
      finished = true;
      done(outcome);
    }
  };
  schedule(0);
  return {
    wake: () => {
      if (!finished) schedule(0);
    },
  };
}
