// The run report: the timeline SVG (one marker per action, bars coloured by generation and
// failure class, escaping, empty and 10-minute runs), the HTML page, the files written for a
// run, and the summary table. Pure string checks; test/browser/ renders the real thing.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { summarize } from '../../lab/check/continuity';
import type { RequestRecord } from '../../lab/load/record';
import { escapeXml } from '../../lab/report/escape';
import { type ReportInput, renderReport } from '../../lab/report/html';
import { FAILURE_COLOURS, generationColour } from '../../lab/report/palette';
import { sampleRun } from '../../lab/report/sample';
import { bucketWidthMs, niceStep, ticks } from '../../lab/report/scale';
import { renderSummary } from '../../lab/report/summary';
import type { Action, SampledSeries } from '../../lab/results/types';
import { renderTimeline } from '../../lab/report/timeline';
import { writeReport, writeSummary } from '../../lab/report/write';

const count = (text: string, needle: string | RegExp) =>
  typeof needle === 'string' ? text.split(needle).length - 1 : (text.match(needle) ?? []).length;
const markers = (svg: string) => count(svg, 'class="action-marker"');
const ok = (end: number, generation: number, pid = 100 + generation): RequestRecord => ({
  start: end - 5,
  end,
  path: '/',
  status: 200,
  generation,
  pid,
});
const failed = (end: number, error: RequestRecord['error']): RequestRecord => ({
  start: end - 5,
  end,
  path: '/',
  error,
});

describe('timeline', () => {
  it('draws exactly one .action-marker per action, carrying its label', () => {
    const actions: Action[] = [
      { at: -300, kind: 'apply', label: 'apply in-place' },
      { at: 1000, kind: 'signal', label: 'USR2' },
      { at: 1000, kind: 'signal', label: 'same moment' },
      { at: 2500, kind: 'initctl', label: 'initctl restart unicorn' },
      { at: 4000, kind: 'docker', label: 'docker restart' },
      { at: 4100, kind: 'note', label: 'upstart: stop/waiting' },
    ];
    const records = Array.from({ length: 500 }, (_, i) => ok(i * 10, 1));
    const svg = renderTimeline(records, actions);
    assert.equal(markers(svg), actions.length);
    for (const a of actions) assert.ok(svg.includes(`data-label="${a.label}"`), a.label);
    assert.ok(svg.includes('data-kind="docker"'));
  });

  it('keeps one marker per action when 60 labels crowd a short run', () => {
    const actions: Action[] = Array.from({ length: 60 }, (_, i) => ({
      at: i * 50,
      kind: 'signal',
      label: `USR2 #${i} → master ${1000 + i}`,
    }));
    const svg = renderTimeline([ok(10, 1), ok(2990, 1)], actions);
    assert.equal(markers(svg), 60);
    // The overflow shrinks to numbered badges instead of overlapping text.
    assert.ok(svg.includes('>#60<'), 'the last label became a badge');
  });

  it('stacks successes by generation (palette in generation order) and failures by class', () => {
    const records = [
      ok(50, 9),
      ok(60, 5),
      ok(150, 9),
      failed(160, 'refused'),
      failed(170, 'http-502'),
      failed(180, 'http-503'),
      failed(190, 'error-EHOSTUNREACH'),
      failed(250, 'reset'),
      failed(260, 'timeout'),
      failed(270, 'http-504'),
    ];
    const svg = renderTimeline(records, []);
    // gen 5 is the older generation: first colour; gen 9 the second.
    assert.ok(svg.includes(`class="bar gen-5" fill="${generationColour(0)}"`));
    assert.ok(svg.includes(`class="bar gen-9" fill="${generationColour(1)}"`));
    for (const k of ['refused', 'reset', 'timeout', 'http-502', 'http-504'] as const)
      assert.ok(svg.includes(`class="bar fail-${k}" fill="${FAILURE_COLOURS[k]}"`), k);
    // 503 and client errors share the "other" colour.
    assert.ok(svg.includes(`class="bar fail-other" fill="${FAILURE_COLOURS.other}"`));
    assert.equal(count(svg, 'class="bar fail-other"'), 1, 'one stacked segment for two "other" failures in one bucket');
    assert.ok(
      svg.includes('0.1–0.2 s: 1 ok (gen 9), 1 refused, 1 HTTP 502, 2 other error'),
      'bucket by completion time, described in its title',
    );
    assert.ok(svg.includes('>failed<') && svg.includes('>gen 5<') && svg.includes('>gen 9<'), 'lanes');
  });

  it('gives successes without a generation header their own grey series', () => {
    const svg = renderTimeline([{ start: 0, end: 40, path: '/', status: 200 }], []);
    assert.ok(svg.includes('class="bar gen-unknown"'));
    assert.ok(svg.includes('ok, no generation'));
  });

  it('escapes hostile labels and drops characters XML cannot carry', () => {
    const label = `<script>alert("x")</script> & 'q' \u0001 ]]> </svg>`;
    const svg = renderTimeline([ok(100, 1)], [{ at: 50, kind: 'note', label }]);
    assert.ok(!svg.includes('<script'));
    assert.equal(count(svg, '</svg>'), 1);
    assert.ok(!svg.includes('\u0001'));
    assert.ok(
      svg.includes(
        `data-label="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;  ]]&gt; &lt;/svg&gt;"`,
      ),
    );
    assert.equal(markers(svg), 1);
    assert.equal(escapeXml('a\u0000b\tc\n'), 'ab\tc\n');
  });

  it('renders an empty run with axes and a note, and a one-request run', () => {
    const empty = renderTimeline([], []);
    assert.match(empty, /^<svg [^>]*class="timeline"/);
    assert.ok(empty.endsWith('</svg>'));
    assert.ok(empty.includes('no requests recorded'));
    assert.equal(count(empty, 'class="bar '), 0);
    assert.equal(markers(empty), 0);
    assert.ok(!/NaN|Infinity|undefined/.test(empty));

    const one = renderTimeline([ok(14, 1)], [{ at: 5, kind: 'signal', label: 'USR2' }]);
    assert.equal(count(one, 'class="bar gen-1"'), 1);
    assert.equal(markers(one), 1);
    assert.ok(!/NaN|Infinity|undefined/.test(one));
    assert.ok(!one.includes('text-anchor="end" fill="#475569">0.5<'), 'whole-request ticks on the y axis');
  });

  it('ignores records with a non-finite end instead of drawing NaN', () => {
    const svg = renderTimeline(
      [ok(Number.NaN, 1), ok(Number.POSITIVE_INFINITY, 1), ok(100, 1)],
      [{ at: Number.NaN, kind: 'note', label: 'bad' }],
    );
    assert.ok(!/NaN|Infinity/.test(svg));
    assert.equal(count(svg, 'class="bar gen-1"'), 1);
  });

  it('merges a 10-minute run into wider buckets and stays under 1 MB', () => {
    const { records } = sampleRun({ seconds: 600, rate: 100 });
    const actions: Action[] = Array.from({ length: 40 }, (_, i) => ({
      at: i * 15_000,
      kind: 'signal',
      label: `USR2 ${i}`,
    }));
    const svg = renderTimeline(records, actions);
    assert.ok(svg.length < 1_000_000, `${svg.length} bytes`);
    assert.equal(markers(svg), 40);
    const buckets = count(svg, /<g><title>/g);
    assert.ok(buckets > 100 && buckets <= 600, `${buckets} bars`);
    assert.ok(svg.includes('requests per 2 s'), 'the axis says the bucket width');
  });

  it('draws sampled series in a strip under the requests: step lines, a limit dashed and capped', () => {
    const records = Array.from({ length: 300 }, (_, i) => ok(i * 10, 1));
    const plain = renderTimeline(records, []);
    assert.equal(count(plain, 'class="sampled"'), 0, 'no series, no strip');
    const queue: Array<[number, number]> = [
      [0, 0],
      [1000, 40],
      [1100, 65],
      [2000, 0],
    ];
    const backlog: Array<[number, number]> = [
      [0, 64],
      [1500, 1024],
      [4500, 1024],
    ];
    const svg = renderTimeline(records, [], {
      series: [
        { name: 'listen queue', points: queue },
        { name: 'backlog <in effect>', points: backlog, limit: true },
      ],
    });
    assert.ok(!/NaN|Infinity|undefined/.test(svg));
    assert.equal(count(svg, 'class="sampled"'), 2);
    assert.ok(svg.includes('data-name="listen queue" data-peak="65"'));
    assert.ok(svg.includes('data-name="backlog &lt;in effect&gt;" data-peak="1024"'), 'names are escaped');
    assert.ok(svg.includes('listen queue: peak 65 at 1.1 s, 4 samples'));
    const paths = [...svg.matchAll(/<g class="sampled"[^>]*>.*?<path d="([^"]+)"([^>]*)\/>/g)];
    assert.equal(paths.length, 2);
    assert.equal(count(paths[0][1], 'H'), 3, 'a step per sample after the first');
    assert.ok(!paths[0][2].includes('dasharray') && paths[1][2].includes('stroke-dasharray'), 'the limit is dashed');
    // 1024 is more than twice the queue's peak: it does not stretch the scale, it is written at the top.
    assert.ok(svg.includes('>1024 ↑<'));
    assert.ok(svg.includes('text-anchor="end" fill="#475569">100<') && !svg.includes('fill="#475569">1000<'));
    // The strip's samples widen the domain (the backlog's last one is after the last request).
    assert.ok(
      svg.includes('fill="#475569">4.5</text>') && !plain.includes('fill="#475569">4.5</text>'),
      'the axis reaches 4.5 s',
    );
    assert.ok(svg.includes('>listen queue</text>') && svg.includes('stroke-dasharray="5 3"/><text'), 'in the legend');
    assert.ok(svg.length > plain.length);
  });

  it('leaves series without finite samples out', () => {
    const svg = renderTimeline([ok(100, 1)], [], {
      series: [
        { name: 'empty', points: [] },
        { name: 'bad', points: [[Number.NaN, 3]] },
      ],
    });
    assert.equal(count(svg, 'class="sampled"'), 0);
    assert.ok(!/NaN|Infinity/.test(svg));
  });

  it("names the strip's axis after the first series, cut to the strip's height", () => {
    const svg = renderTimeline([ok(100, 1)], [], {
      series: [{ name: 'connections waiting in the accept queue', points: [[0, 1]] }],
    });
    assert.match(svg, /rotate\(-90\)" text-anchor="middle" fill="#334155" font-size="11">connections …<\/text>/);
    assert.ok(svg.includes('>connections waiting in the accept queue</text>'), 'the legend has the whole name');
  });
});

describe('scale', () => {
  it('steps are 1, 2 or 5 × 10^k and buckets widen only past the pixel budget', () => {
    assert.deepEqual([0.3, 1, 1.5, 3, 7, 40, 101].map(niceStep), [0.5, 1, 2, 5, 10, 50, 200]);
    assert.equal(bucketWidthMs(20_000, 564), 100);
    assert.equal(bucketWidthMs(600_000, 564), 2000);
    assert.deepEqual(ticks(171, 4, true).values, [0, 50, 100, 150, 200]);
    assert.deepEqual(ticks(1, 4, true).values, [0, 1]);
  });
});

function input(over: Partial<ReportInput> = {}): ReportInput {
  const { records, actions } = sampleRun({ seconds: 6, rate: 100 });
  return {
    title: 'bridge-inplace <demo>',
    scenario: 'bridge-inplace',
    flavour: 'precise',
    verdict: { outcome: 'UNEXPECTED', reasons: ['expected 0 failed, got 3 <refused>'] },
    continuity: summarize(records),
    records,
    actions,
    initBefore: 'unicorn start/running, process 1200',
    initAfter: 'unicorn stop/waiting',
    logs: ['init: unicorn main process (1200) killed by KILL signal', '<img src=x onerror=alert(1)>'],
    startedAt: '2024-05-01T10:00:00.000Z',
    ...over,
  };
}

describe('report page', () => {
  it('has the verdict, numbers, generations, inline timeline, init status and escaped logs', () => {
    const i = input();
    const html = renderReport(i);
    assert.ok(html.startsWith('<!doctype html>'));
    assert.ok(html.includes('data-outcome="UNEXPECTED"') && html.includes('>UNEXPECTED<'));
    assert.ok(html.includes('expected 0 failed, got 3 &lt;refused&gt;'));
    assert.ok(html.includes('bridge-inplace &lt;demo&gt;'));
    assert.ok(html.includes(`<td class="num">${i.continuity.sent}</td>`));
    assert.ok(html.includes('longest gap without a success') && html.includes('latency p50 / p99 / max'));
    for (const g of i.continuity.generations) assert.ok(html.includes(`gen ${g.generation}</td>`));
    assert.equal(count(html, 'class="action-marker"'), i.actions.length);
    assert.ok(html.includes('unicorn stop/waiting'));
    assert.ok(html.includes('&lt;img src=x onerror=alert(1)&gt;') && !html.includes('<img'));
    assert.ok(html.includes('<span class="hot">init: unicorn main process (1200) killed by KILL signal</span>'));
  });

  it('is self-contained: no scripts, no external resources', () => {
    const html = renderReport(input({ logs: ['worker 1201 ready'] }));
    assert.ok(!/<script|<link|<img|\ssrc=|url\(|@import|https?:\/\/(?!www\.w3\.org\/2000\/svg)/i.test(html));
  });

  it('renders a run that never started', () => {
    const html = renderReport(
      input({
        verdict: { outcome: 'NOT RUN', reasons: [] },
        records: [],
        actions: [],
        continuity: summarize([]),
        logs: undefined,
        initBefore: undefined,
        initAfter: undefined,
      }),
    );
    assert.ok(html.includes('>NOT RUN<') && html.includes('no requests recorded') && html.includes('not recorded'));
  });
});

describe('files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'report-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writeReport writes report.html, result.json without the raw records, and records.json', () => {
    const i = input();
    const path = writeReport(join(dir, 'runs', 'bridge-inplace@precise'), i);
    assert.equal(path, join(dir, 'runs', 'bridge-inplace@precise', 'report.html'));
    assert.ok(readFileSync(path, 'utf8').includes('class="timeline"'));
    const result = JSON.parse(
      readFileSync(join(dir, 'runs', 'bridge-inplace@precise', 'result.json'), 'utf8'),
    ) as Record<string, unknown>;
    assert.equal(result.records, undefined);
    assert.equal(result.recordsFile, 'records.json');
    assert.deepEqual(result.verdict, i.verdict);
    assert.deepEqual(
      JSON.parse(readFileSync(join(dir, 'runs', 'bridge-inplace@precise', 'records.json'), 'utf8')),
      i.records,
    );
  });

  it('writeReport draws the sampled series on the page and keeps them in result.json', () => {
    const series: SampledSeries[] = [
      {
        name: 'listen queue',
        points: [
          [0, 1],
          [500, 66],
        ],
      },
    ];
    const path = writeReport(join(dir, 'runs', 'series@bookworm'), input({ series }));
    assert.ok(readFileSync(path, 'utf8').includes('data-name="listen queue" data-peak="66"'));
    const result = JSON.parse(readFileSync(join(dir, 'runs', 'series@bookworm', 'result.json'), 'utf8')) as {
      series?: unknown;
    };
    assert.deepEqual(result.series, series);
  });

  it('writeSummary links each cell to its report relative to the summary', () => {
    const report = writeReport(join(dir, 'runs', 'a b'), input());
    const path = writeSummary(dir, [
      { scenario: 'bridge-inplace', flavour: 'precise', outcome: 'EXPECTED', reportPath: report },
      { scenario: 'bridge-inplace', flavour: 'bookworm', outcome: 'UNEXPECTED', reasons: ['2 refused'] },
    ]);
    const html = readFileSync(path, 'utf8');
    assert.ok(html.includes('href="runs/a%20b/report.html"'));
    assert.ok(existsSync(join(dir, 'runs', 'a b', 'report.html')));
  });
});

describe('summary page', () => {
  it('is a scenario × flavour table; the last run of a cell wins; only relative links', () => {
    const html = renderSummary([
      { scenario: 'bridge-inplace', flavour: 'precise', outcome: 'UNEXPECTED', href: 'old/report.html' },
      { scenario: 'bridge-inplace', flavour: 'precise', outcome: 'EXPECTED', href: 'runs/1/report.html' },
      {
        scenario: 'bridge-reexec',
        flavour: 'bookworm',
        outcome: 'UNEXPECTED',
        reasons: ['<two masters>'],
        href: 'javascript:alert(1)',
      },
      { scenario: 'master-killed', flavour: 'precise', outcome: 'NOT RUN' },
    ]);
    assert.equal(count(html, '<tr><th>') - 1, 3, 'a header row, then one row per scenario');
    assert.ok(html.includes('>precise</th>') && html.includes('>bookworm</th>'));
    assert.ok(html.includes('href="runs/1/report.html"') && !html.includes('old/report.html'));
    assert.ok(!html.includes('javascript:'));
    assert.ok(html.includes('title="&lt;two masters&gt;"'));
    assert.equal(count(html, 'data-outcome="EXPECTED"'), 1);
    assert.equal(count(html, '<td class="cell muted">—</td>'), 3, 'cells never run are dashes');
  });
});
