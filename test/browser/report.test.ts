// A generated run report rendered by a real browser (Debian's chromium, headless): the DOM
// after parsing has the timeline and one .action-marker per action (a hostile label included,
// so broken escaping would show up as a wrong count), and a screenshot is a real picture.
// Set REPORT_KEEP=DIR to keep the report and its screenshot for a look.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { inflateSync } from 'node:zlib';
import { after, describe, it } from 'node:test';
import { summarize } from '../../lab/check/continuity';
import { sampleRun } from '../../lab/report/sample';
import type { Action } from '../../lab/results/types';
import { writeReport } from '../../lab/report/write';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const skip = CHROMIUM === undefined ? 'chromium is not installed (apt-get install -y chromium)' : false;

/** Runs headless chromium with a throwaway profile and nothing that phones home. */
function chromium(dir: string, args: string[]): { stdout: string; stderr: string } {
  const profile = mkdtempSync(join(dir, 'profile-'));
  try {
    const r = spawnSync(
      CHROMIUM as string,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        ...args,
      ],
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 * 1024 * 1024 },
    );
    assert.equal(r.error, undefined, String(r.error));
    assert.equal(r.status, 0, `chromium exited ${r.status} ${r.signal ?? ''}\n${r.stderr}`);
    return { stdout: r.stdout, stderr: r.stderr };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

interface Png {
  width: number;
  height: number;
  /** RGBA-or-RGB bytes, unfiltered, row after row */
  pixels: Buffer;
  channels: number;
}

/** Just enough PNG to look at chromium's screenshots: 8-bit, non-interlaced, grey/RGB/RGBA. */
function decodePng(buf: Buffer): Png {
  assert.equal(buf.subarray(0, 8).toString('hex'), '89504e470d0a1a0a', 'PNG signature');
  let width = 0,
    height = 0,
    channels = 0;
  const idat: Buffer[] = [];
  for (let off = 8; off < buf.length;) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
      assert.equal(data[8], 8, 'bit depth 8');
      assert.equal(data[12], 0, 'not interlaced');
      channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[data[9]];
      assert.ok(channels, `colour type ${data[9]}`);
    } else if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const pixels = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? pixels[y * stride + x - channels] : 0;
      const b = y > 0 ? pixels[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? pixels[(y - 1) * stride + x - channels] : 0;
      const p = a + b - c;
      const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      assert.notEqual(predictor, undefined, `filter ${filter}`);
      pixels[y * stride + x] = (line[x] + predictor) & 0xff;
    }
  }
  return { width, height, pixels, channels };
}

describe('report in headless chromium', { skip }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-browser-'));
  after(() => {
    if (process.env.REPORT_KEEP) {
      mkdirSync(process.env.REPORT_KEEP, { recursive: true });
      cpSync(dir, process.env.REPORT_KEEP, { recursive: true });
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const { records, actions: story } = sampleRun();
  // A label that would forge a second marker if it were not escaped.
  const actions: Action[] = [
    ...story,
    { at: 18_500, kind: 'note', label: '"><g class="action-marker" data-label="forged"></g><b>' },
  ];
  const report = writeReport(join(dir, 'run'), {
    title: 'bridge-reexec: USR2 reexec behind the socket bridge (sample data)',
    scenario: 'bridge-reexec',
    flavour: 'precise',
    verdict: {
      outcome: 'UNEXPECTED',
      reasons: ['two masters served at once', 'failed requests: http-502, refused, reset, timeout, http-504'],
    },
    continuity: summarize(records),
    records,
    actions,
    initBefore: 'unicorn start/running, process 1200\nunicorn-bridge start/running, process 310',
    initAfter: 'unicorn stop/waiting\nunicorn-bridge start/running, process 310',
    logs: [
      'init: unicorn main process (1388) killed by KILL signal',
      'nginx: connect() to unix:/run/unicorn.sock failed (111: Connection refused)',
    ],
    startedAt: '2024-05-01T10:00:00.000Z',
  });
  const url = pathToFileURL(report).href;

  it('the rendered DOM has the timeline and one .action-marker per action', () => {
    const { stdout: dom } = chromium(dir, ['--dump-dom', url]);
    assert.match(dom, /<svg [^>]*class="timeline"/);
    // Elements only: in serialized text nodes (tooltips, the actions table) "<" stays escaped.
    assert.equal((dom.match(/<g class="action-marker"/g) ?? []).length, actions.length);
    assert.equal((dom.match(/<g class="action-marker" data-label="forged">/g) ?? []).length, 0);
    assert.match(dom, /data-outcome="UNEXPECTED"/);
    assert.ok((dom.match(/class="bar /g) ?? []).length > 100, 'bars rendered');
  });

  it('a 1400×1000 screenshot is a real picture, not a blank page', () => {
    const png = join(dir, 'report.png');
    chromium(dir, [`--screenshot=${png}`, '--window-size=1400,1000', url]);
    assert.ok(existsSync(png), 'screenshot written');
    const img = decodePng(readFileSync(png));
    assert.equal(img.width, 1400);
    assert.equal(img.height, 1000);
    // A blank page has one or two colours; the chart has bars in many, text anti-aliasing many more.
    const colours = new Set<number>();
    let nonBackground = 0;
    const bg = img.pixels.readUIntBE(0, Math.min(3, img.channels));
    for (let i = 0; i < img.pixels.length; i += img.channels * 7) {
      const v = img.pixels.readUIntBE(i, Math.min(3, img.channels));
      colours.add(v);
      if (v !== bg) nonBackground++;
    }
    assert.ok(colours.size > 50, `${colours.size} distinct colours`);
    assert.ok(nonBackground / (img.pixels.length / (img.channels * 7)) > 0.2, 'most of the page is not background');
  });
});
