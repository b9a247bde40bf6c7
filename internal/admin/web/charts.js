// Hand-drawn canvas charts for the aya dashboard: time series as lines or stacked areas, with
// horizontal reference lines (a cap, a threshold), a y axis of round numbers, time labels,
// and a hover read-out. No library: the dashboard must work offline.
'use strict';

(function () {
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

  // niceStep rounds a tick step up to 1, 2 or 5 times a power of ten.
  function niceStep(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p * (1 + 1e-9)) return m * p;
    return 10 * p;
  }

  // Time label spacing: the smallest of these that keeps labels apart.
  const timeSteps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600].map((s) => s * 1000);

  function pad2(n) { return n < 10 ? '0' + n : '' + n; }
  function clock(ms, seconds) {
    const d = new Date(ms);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + (seconds ? ':' + pad2(d.getSeconds()) : '');
  }

  // draw renders chart state s onto its canvas.
  function draw(s) {
    const cv = s.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = cv.clientWidth, hgt = cv.clientHeight;
    if (!w || !hgt) return;
    if (cv.width !== Math.round(w * dpr) || cv.height !== Math.round(hgt * dpr)) {
      cv.width = Math.round(w * dpr);
      cv.height = Math.round(hgt * dpr);
    }
    const g = cv.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, w, hgt);
    const o = s.opts;
    const times = o.times || [];
    const n = times.length;
    const series = o.series || [];
    const fmt = o.format || ((v) => String(v));
    const font = '11px ' + (css('--font') || 'sans-serif');
    g.font = font;

    // Y scale: stacked charts scale to the tallest stack, and reference lines always show.
    let top = o.min || 0;
    if (o.stacked) {
      for (let i = 0; i < n; i++) {
        let sum = 0;
        for (const sr of series) sum += sr.values[i] || 0;
        top = Math.max(top, sum);
      }
    } else {
      for (const sr of series) for (const v of sr.values) if (v > top) top = v;
    }
    for (const l of o.lines || []) if (l.value > top) top = l.value;
    if (!(top > 0)) top = o.empty || 1;
    const step = niceStep(top * 1.05 / 4);
    const ticks = Math.max(1, Math.ceil(top * 1.05 / step - 1e-9));
    top = step * ticks;

    let left = 0;
    for (let i = 0; i <= ticks; i++) left = Math.max(left, g.measureText(fmt(step * i)).width);
    const pl = Math.ceil(left) + 10, pr = 8, pt = 8, pb = 20;
    const cw = w - pl - pr, ch = hgt - pt - pb;
    s.pl = pl;
    s.cw = cw;
    const x = (i) => pl + (n <= 1 ? cw : (i / (n - 1)) * cw);
    const y = (v) => pt + ch - (v / top) * ch;

    // Grid and y labels.
    g.strokeStyle = css('--grid');
    g.fillStyle = css('--muted');
    g.lineWidth = 1;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    for (let i = 0; i <= ticks; i++) {
      const v = step * i, yy = Math.round(y(v)) + 0.5;
      g.beginPath(); g.moveTo(pl, yy); g.lineTo(w - pr, yy); g.stroke();
      g.fillText(fmt(v), pl - 6, yy);
    }
    // Time labels at round times, at least 80 px apart, none cut by an edge.
    if (n > 1) {
      g.textAlign = 'center';
      g.textBaseline = 'top';
      const t0 = times[0], t1 = times[n - 1], span = t1 - t0;
      const tx = (t) => pl + ((t - t0) / span) * cw;
      const every = timeSteps.find((s) => (s / span) * cw >= 80) || timeSteps[timeSteps.length - 1];
      const secs = every < 60000;
      for (let t = Math.ceil(t0 / every) * every; t <= t1; t += every) {
        const label = clock(t, secs), half = g.measureText(label).width / 2, lx = tx(t);
        if (lx - half < pl || lx + half > w - pr) continue;
        g.fillText(label, lx, pt + ch + 5);
      }
    }

    // Series: stacked areas bottom-up, or lines with a light fill.
    const base = new Array(n).fill(0);
    series.forEach((sr) => {
      const vals = sr.values;
      const upper = vals.map((v, i) => (o.stacked ? base[i] : 0) + (v || 0));
      g.beginPath();
      for (let i = 0; i < n; i++) (i ? g.lineTo : g.moveTo).call(g, x(i), y(upper[i]));
      if (o.stacked || sr.fill) {
        const lower = o.stacked ? base.slice() : new Array(n).fill(0);
        for (let i = n - 1; i >= 0; i--) g.lineTo(x(i), y(lower[i]));
        g.closePath();
        g.globalAlpha = o.stacked ? 0.55 : 0.15;
        g.fillStyle = sr.color;
        g.fill();
        g.globalAlpha = 1;
        g.beginPath();
        for (let i = 0; i < n; i++) (i ? g.lineTo : g.moveTo).call(g, x(i), y(upper[i]));
      }
      g.strokeStyle = sr.color;
      g.lineWidth = 1.6;
      g.lineJoin = 'round';
      g.stroke();
      if (o.stacked) for (let i = 0; i < n; i++) base[i] = upper[i];
    });

    // Reference lines, labelled at the right end.
    for (const l of o.lines || []) {
      const yy = Math.round(y(l.value)) + 0.5;
      g.save();
      g.strokeStyle = l.color;
      g.lineWidth = 1.5;
      if (l.dash) g.setLineDash(l.dash);
      g.beginPath(); g.moveTo(pl, yy); g.lineTo(w - pr, yy); g.stroke();
      g.restore();
      if (l.label) {
        g.fillStyle = l.color;
        g.textAlign = 'right';
        g.textBaseline = 'bottom';
        g.fillText(l.label, w - pr - 2, yy - 2);
      }
    }

    // Hover read-out.
    if (s.hover != null && n > 0) {
      const i = s.hover;
      const hx = Math.round(x(i)) + 0.5;
      g.strokeStyle = css('--muted');
      g.beginPath(); g.moveTo(hx, pt); g.lineTo(hx, pt + ch); g.stroke();
      const rows = [clock(times[i], true)].concat(series.map((sr) => sr.name + '  ' + fmt(sr.values[i] || 0)));
      let bw = 0;
      for (const r of rows) bw = Math.max(bw, g.measureText(r).width);
      bw += 16;
      const bh = rows.length * 15 + 8;
      const bx = hx + bw + 10 > w ? hx - bw - 8 : hx + 8;
      g.fillStyle = css('--tooltip');
      g.strokeStyle = css('--grid');
      g.beginPath(); g.rect(bx, pt, bw, bh); g.fill(); g.stroke();
      g.textAlign = 'left';
      g.textBaseline = 'top';
      rows.forEach((r, k) => {
        g.fillStyle = k === 0 ? css('--muted') : series[k - 1].color;
        g.fillText(r, bx + 8, pt + 5 + k * 15);
      });
    }
  }

  // chart binds a canvas to options and draws; call it again with new options to update.
  function chart(canvas, opts) {
    let s = canvas._chart;
    if (!s) {
      s = { canvas: canvas, opts: opts, hover: null };
      canvas._chart = s;
      const pick = (ev) => {
        const r = canvas.getBoundingClientRect();
        const n = (s.opts.times || []).length;
        if (n < 2) return;
        const f = Math.min(1, Math.max(0, (ev.clientX - r.left - (s.pl || 0)) / (s.cw || r.width)));
        s.hover = Math.round(f * (n - 1));
        draw(s);
      };
      canvas.addEventListener('mousemove', pick);
      canvas.addEventListener('mouseleave', () => { s.hover = null; draw(s); });
      // Redraw when the canvas gets its size: on creation before it is in the page, when a
      // hidden panel is shown, when the window changes.
      new ResizeObserver(() => draw(s)).observe(canvas);
    }
    s.opts = opts;
    if (s.hover != null && s.hover >= (opts.times || []).length) s.hover = null;
    draw(s);
  }

  window.Charts = { chart: chart };
})();
