// Short gaps in a chart's series, joined (docs/web.md, "Node page").
//
// The series endpoints put one value per bucket and null for a bucket without a sample. When the
// samples come about as often as the buckets (15 s buckets, samples every 15 s with jitter, or
// every 30 s), every other bucket is empty, and uPlot with spanGaps false drew isolated dots
// that are invisible with points hidden: a 1 h chart looked empty. A run of at most
// ``maxRun`` empty buckets between two samples is joined; a longer one (the collector was down)
// stays a gap. uPlot draws a null as a gap and joins over an undefined, so the joined buckets
// become undefined (the legend still shows them as no value).

export const JOIN_BUCKETS = 2;

export function joinShortGaps(values, maxRun = JOIN_BUCKETS) {
  const out = values.slice();
  let i = 0;
  while (i < out.length) {
    if (out[i] !== null && out[i] !== undefined) {
      i += 1;
      continue;
    }
    let end = i;
    while (end < out.length && (out[end] === null || out[end] === undefined)) end += 1;
    // [i, end) is a run of empty buckets; join it only between two samples.
    if (i > 0 && end < out.length && end - i <= maxRun) {
      for (let k = i; k < end; k += 1) out[k] = undefined;
    }
    i = end;
  }
  return out;
}
