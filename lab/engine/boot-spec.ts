/**
 * What a boot puts in place before init starts, so init sees it as it would at boot: job
 * files, units, nginx sites. The container's command writes them, then becomes init.
 */
export interface BootSpec {
  /** absolute path in the container -> content */
  files?: Record<string, string>;
  /** removed before init starts (a job that must not run, say) */
  remove?: string[];
  /** shell lines run before init (symlinks for systemd units and nginx sites, for example) */
  shell?: string[];
  /** one line for the report's "config applied" marker */
  label: string;
  /** it puts the app server in place itself: the server's own activation is not applied first */
  activatesServer?: boolean;
}

/** Two specs as one: files and lines of `b` come after (and win over) those of `a`. */
export function mergeBoot(a: BootSpec, b: BootSpec): BootSpec {
  return {
    label: [a.label, b.label].filter(Boolean).join('; '),
    files: { ...a.files, ...b.files },
    remove: [...(a.remove ?? []), ...(b.remove ?? [])],
    shell: [...(a.shell ?? []), ...(b.shell ?? [])],
  };
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A shell line that writes `text` to `path` (through base64: any bytes, any quotes). As a
 * `shell` line of a BootSpec it runs after every file is written, so it also replaces a file
 * the server's activation copied in place with its own shell line.
 */
export function writeFileLine(path: string, text: string): string {
  return `printf %s ${quote(Buffer.from(text).toString('base64'))} | base64 -d > ${quote(path)}`;
}

/** The container's command: put the files in place, then become init (PID 1 stays). */
export function bootCommand(boot: BootSpec): string[] {
  const lines = ['set -e'];
  for (const p of boot.remove ?? []) lines.push(`rm -f ${quote(p)}`);
  for (const [p, text] of Object.entries(boot.files ?? {})) {
    const dir = p.slice(0, p.lastIndexOf('/')) || '/';
    lines.push(`mkdir -p ${quote(dir)}`, writeFileLine(p, text), `chmod 0644 ${quote(p)}`);
  }
  lines.push(...(boot.shell ?? []), 'exec /sbin/init');
  return ['/bin/sh', '-c', lines.join('\n')];
}
