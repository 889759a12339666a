// Signal names as nih_signal_from_name() (nih 1.0.3, upstart 1.5's library) accepts them
// (with or without the SIG prefix) on Linux.

const NAMES = new Set([
  'HUP',
  'INT',
  'QUIT',
  'ILL',
  'TRAP',
  'ABRT',
  'IOT',
  'BUS',
  'FPE',
  'KILL',
  'USR1',
  'SEGV',
  'USR2',
  'PIPE',
  'ALRM',
  'TERM',
  'STKFLT',
  'CHLD',
  'CLD',
  'CONT',
  'STOP',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'XCPU',
  'XFSZ',
  'VTALRM',
  'PROF',
  'WINCH',
  'IO',
  'POLL',
  'PWR',
  'SYS',
  'UNUSED',
]);

export function isSignalName(word: string): boolean {
  return NAMES.has(word.startsWith('SIG') ? word.slice(3) : word);
}

/** An unsigned decimal that strtoul() takes whole and that fits an int. */
export function isExitStatus(word: string): boolean {
  return /^\d+$/.test(word) && Number(word) <= 2147483647;
}
