// aya dashboard: polls the admin API once a second and draws what it says. Plain DOM, no
// framework; every value from the server goes in as text, never as HTML.
'use strict';

(function () {
  const $ = (sel, el) => (el || document).querySelector(sel);
  const $$ = (sel, el) => Array.from((el || document).querySelectorAll(sel));
  const colors = ['--c1', '--c2', '--c3', '--c4', '--c5', '--c6'].map((v) => getComputedStyle(document.documentElement).getPropertyValue(v).trim());
  const cssVar = (v) => getComputedStyle(document.documentElement).getPropertyValue(v).trim();
  const tabs = ['overview', 'upstreams', 'routes', 'requests', 'alerts', 'tps', 'llm'];

  const state = {
    csrf: '',
    authRequired: false,
    tab: 'overview',
    tpsHistory: {}, // pool → [{t, capacity, effective, alloc: {svc: n}}]
    selected: '',
    routesLoaded: false,
    busy: false,
  };
  const TPS_KEEP = 300;

  // el builds an element: el('td', {class: 'num'}, 'text', child, ...).
  function el(tag, attrs) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === 'class') e.className = attrs[k];
      else if (k === 'style') e.style.cssText = attrs[k]; // CSSOM: allowed by the page's CSP, unlike a style attribute
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), attrs[k]);
      else if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    }
    const add = (c) => {
      if (c === null || c === undefined || c === false) return;
      if (Array.isArray(c)) c.forEach(add);
      else e.append(c instanceof Node ? c : String(c));
    };
    for (let i = 2; i < arguments.length; i++) add(arguments[i]);
    return e;
  }
  const fill = (parent, ...kids) => { parent.replaceChildren(...kids.flat().filter((k) => k)); };

  // Formatting.
  function fmtNum(v) {
    if (!isFinite(v)) return '–';
    const a = Math.abs(v);
    if (a >= 1e6) return (v / 1e6).toFixed(a >= 1e7 ? 0 : 1) + 'M';
    if (a >= 1e4) return (v / 1e3).toFixed(0) + 'k';
    if (a >= 1e3) return (v / 1e3).toFixed(1) + 'k';
    if (a >= 100 || v === Math.round(v)) return v.toFixed(0);
    return v.toFixed(a >= 10 ? 1 : 2);
  }
  const trim = (x) => x.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
  function fmtDur(s) {
    if (!isFinite(s) || s <= 0) return s === 0 ? '0' : '–';
    if (s < 1e-3) return (s * 1e6).toFixed(0) + ' µs';
    if (s < 1) return trim((s * 1e3).toFixed(s < 0.01 ? 2 : s < 0.1 ? 1 : 0)) + ' ms';
    if (s < 120) return trim(s.toFixed(2)) + ' s';
    return trim((s / 60).toFixed(1)) + ' min';
  }
  function fmtPct(r) {
    if (!isFinite(r)) return '–';
    if (r === 0) return '0%';
    const p = r * 100;
    return (p < 0.1 ? p.toFixed(2) : p < 10 ? p.toFixed(1) : p.toFixed(0)) + '%';
  }
  function fmtBytes(b) {
    if (!isFinite(b)) return '–';
    const u = ['B', 'KB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
    return (i ? b.toFixed(b < 10 ? 1 : 0) : b.toFixed(0)) + ' ' + u[i];
  }
  const pad = (n, w) => String(n).padStart(w || 2, '0');
  function fmtClock(iso, ms) {
    const d = new Date(iso);
    return pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) + (ms ? '.' + pad(d.getMilliseconds(), 3) : '');
  }
  function fmtAgo(iso) {
    const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (s < 60) return Math.round(s) + 's';
    if (s < 3600) return Math.round(s / 60) + 'm';
    return (s / 3600).toFixed(1) + 'h';
  }
  const statusClass = (st) => 'st' + Math.floor(st / 100);

  // API access. A 401 means the session ended: back to the sign-in form.
  class AuthError extends Error {}
  async function api(path, opts) {
    opts = opts || {};
    const headers = Object.assign({ Accept: 'application/json' }, opts.headers || {});
    if (opts.method && opts.method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
    const r = await fetch(path, Object.assign({}, opts, { headers: headers, credentials: 'same-origin', cache: 'no-store' }));
    if (r.status === 401 && state.authRequired && path !== 'login') { showLogin(); throw new AuthError('signed out'); }
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) throw new Error((body && body.error && body.error.message) || ('HTTP ' + r.status));
    return body;
  }

  function setLive(ok, text) {
    $('#live-dot').className = 'dot ' + (ok ? 'on' : 'off');
    $('#live-text').textContent = text;
  }

  // Sign-in.
  function showLogin() {
    $('#login').hidden = false;
    $$('section[data-panel]').forEach((s) => { s.hidden = true; });
    $('#nav').style.visibility = 'hidden';
    $('#logout').hidden = true;
    setLive(false, 'signed out');
  }
  async function checkSession() {
    const s = await api('session');
    state.authRequired = s.auth_required;
    state.csrf = s.csrf || '';
    if (s.auth_required && !s.signed_in) { showLogin(); return false; }
    $('#login').hidden = true;
    $('#nav').style.visibility = '';
    $('#logout').hidden = !s.auth_required;
    return true;
  }
  $('#login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = $('#login-error');
    err.hidden = true;
    try {
      const r = await api('login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token: $('#token').value }) });
      state.csrf = r.csrf || '';
      $('#token').value = '';
      if (await checkSession()) { route(); tick(); }
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    }
  });
  $('#logout').addEventListener('click', async () => {
    try { await api('logout', { method: 'POST' }); } catch (e) { /* signed out either way */ }
    state.csrf = '';
    showLogin();
  });

  // Tabs follow the URL hash, so a panel can be linked and reloaded.
  function route() {
    const want = (location.hash || '#overview').slice(1);
    state.tab = tabs.includes(want) ? want : 'overview';
    if (!$('#login').hidden) return;
    $$('section[data-panel]').forEach((s) => { s.hidden = s.dataset.panel !== state.tab; });
    $$('#nav a').forEach((a) => a.classList.toggle('active', a.dataset.tab === state.tab));
    if (state.tab !== 'requests') $('#req-detail').hidden = true;
  }
  window.addEventListener('hashchange', () => { route(); tick(); });

  function legend(target, items) {
    fill($(target), items.map((it) => el('span', null, el('i', { class: it.line ? 'line' : '', style: 'background:' + it.color }), it.name)));
  }

  // Overview.
  // The cluster card: the live nodes, shown only when this aya is part of a cluster.
  async function clusterCard() {
    let c;
    try { c = await api('../cluster'); } catch (e) { if (e instanceof AuthError) throw e; c = { mode: 'unknown' }; }
    const card = $('#cluster-card');
    card.hidden = c.mode === 'standalone';
    if (card.hidden) return;
    fill($('#cluster-facts'), 'this node ' + (c.node || '?') + ' · Redis ' + (c.redis_up === false ? 'down' : c.mode === 'redis' ? 'up' : 'unreachable'));
    const nodes = (c.nodes || []).slice().sort((a, b) => a.name.localeCompare(b.name));
    fill($('#cluster-nodes tbody'), nodes.length ? nodes.map((n) => el('tr', { class: 'cluster-node' + (n.name === c.node ? ' selected' : ''), 'data-node': n.name },
      el('td', null, n.name), el('td', { class: 'mono' }, n.version), el('td', { class: 'mono' }, n.admin), el('td', null, fmtAgo(n.started))))
      : [el('tr', null, el('td', { colspan: 4, class: 'empty' }, 'The node list is unavailable while Redis does not answer.'))]);
  }

  async function overview() {
    clusterCard().catch(() => {});
    const [series, recent, routes] = await Promise.all([
      api('../analytics?window=5m'),
      api('../analytics?window=10s'),
      api('../analytics?dimension=route&window=1m'),
    ]);
    // Charts start with the first traffic (at least a minute back), so a fresh aya does not
    // show four empty minutes.
    let first = series.points.findIndex((p) => p.requests > 0);
    if (first < 0) first = series.points.length;
    const pts = series.points.slice(Math.max(0, Math.min(first, series.points.length - 60)));
    const times = pts.map((p) => new Date(p.t).getTime());
    const s = recent.summary;
    $('#stat-rps').textContent = fmtNum(s.rps);
    $('#stat-p50').textContent = fmtDur(s.p50);
    $('#stat-p95').textContent = fmtDur(s.p95);
    $('#stat-p99').textContent = fmtDur(s.p99);
    $('#stat-5xx').textContent = fmtPct(s.error_rate_5xx);
    $('#stat-4xx').textContent = '4xx ' + fmtPct(s.error_rate_4xx);
    $('#stat-5xx').parentElement.classList.toggle('alarm', s.error_rate_5xx > 0.01);

    const rpsSeries = [{ name: 'requests/s', color: colors[0], values: pts.map((p) => p.rps), fill: true }];
    Charts.chart($('#chart-rps'), { times: times, series: rpsSeries, format: fmtNum });
    legend('#legend-rps', [{ name: fmtNum(s.rps) + '/s now', color: colors[0] }]);

    const lat = [
      { name: 'p50', color: colors[0], values: pts.map((p) => p.p50) },
      { name: 'p95', color: colors[3], values: pts.map((p) => p.p95) },
      { name: 'p99', color: colors[4], values: pts.map((p) => p.p99) },
    ];
    Charts.chart($('#chart-latency'), { times: times, series: lat, format: fmtDur });
    legend('#legend-latency', lat.map((x) => ({ name: x.name, color: x.color, line: true })));

    const errs = [
      { name: '5xx', color: colors[4], values: pts.map((p) => p.error_rate_5xx), fill: true },
      { name: '4xx', color: cssVar('--warn'), values: pts.map((p) => p.error_rate_4xx) },
    ];
    Charts.chart($('#chart-errors'), { times: times, series: errs, format: fmtPct });
    legend('#legend-errors', errs.map((x) => ({ name: x.name, color: x.color, line: true })));

    const rows = routes.series.slice(0, 8).map((r) => el('tr', null,
      el('td', null, r.name || el('span', { class: 'muted' }, '(no route)')),
      el('td', { class: 'num' }, fmtNum(r.summary.rps)),
      el('td', { class: 'num' }, fmtDur(r.summary.p50)),
      el('td', { class: 'num' }, fmtDur(r.summary.p99)),
      el('td', { class: 'num' }, fmtPct(r.summary.error_rate_4xx)),
      el('td', { class: 'num' }, fmtPct(r.summary.error_rate_5xx)),
      el('td', { class: 'num' }, fmtBytes(r.summary.bytes_out))));
    fill($('#top-routes tbody'), rows.length ? rows : [el('tr', null, el('td', { colspan: 7, class: 'empty' }, 'No traffic in the last minute.'))]);
  }

  // Upstreams: live target state from GET /upstreams, traffic per target from analytics.
  const stateBadge = { healthy: 'ok', half_open: 'warn', draining: 'info', unhealthy: 'crit', ejected: 'crit', open: 'crit' };
  async function upstreams() {
    const [ups, perTarget] = await Promise.all([api('../upstreams'), api('../analytics?dimension=target&window=1m')]);
    const traffic = {};
    for (const t of perTarget.series) traffic[t.name] = t.summary;
    const cards = ups.upstreams.map((u) => {
      const rows = u.targets.map((t) => {
        const tr = traffic[t.url] || {};
        const draining = t.state === 'draining';
        return el('tr', { class: 'target' },
          el('td', { class: 'mono' }, t.url),
          el('td', null, el('span', { class: 'badge ' + (stateBadge[t.state] || '') }, t.state.replace('_', ' '))),
          el('td', { class: 'num' }, t.weight),
          el('td', { class: 'num' }, t.in_flight),
          el('td', { class: 'num' }, fmtDur(t.ewma_latency)),
          el('td', { class: 'num' }, fmtNum(tr.rps || 0)),
          el('td', { class: 'num' }, fmtPct(tr.error_rate_5xx || 0)),
          el('td', { class: 'num' }, t.ejections),
          el('td', null, t.breaker),
          el('td', null, el('button', {
            class: 'small', type: 'button', title: draining ? 'Let the target take new requests again' : 'Stop sending new requests to this target',
            onclick: () => drain(u.name, t.url, !draining),
          }, draining ? 'Undrain' : 'Drain')));
      });
      const bar = el('div', { class: 'health-bar', title: 'one mark per target' }, u.targets.map((t) => el('span', { class: t.state === 'healthy' ? '' : (stateBadge[t.state] === 'crit' ? 'down' : 'warn') })));
      const up = u.targets.filter((t) => t.state === 'healthy').length;
      return el('div', { class: 'card upstream', 'data-upstream': u.name },
        el('div', { class: 'up-head' }, el('h2', null, u.name), el('span', { class: 'muted' }, u.balance.replace(/_/g, ' ')),
          bar, el('span', { class: 'muted' }, up + ' of ' + u.targets.length + ' healthy'),
          u.panic ? el('span', { class: 'badge crit', title: 'too few usable targets: balancing over all of them' }, 'panic mode') : null),
        el('div', { class: 'scroll' }, el('table', null,
          el('thead', null, el('tr', null, ['Target', 'State', 'Weight', 'In flight', 'Latency', 'Req/s', '5xx', 'Ejections', 'Breaker', ''].map((h, i) => el('th', { class: i >= 2 && i <= 7 ? 'num' : '' }, h)))),
          el('tbody', null, rows))));
    });
    fill($('#upstreams'), cards.length ? cards : [el('div', { class: 'card empty' }, 'No upstreams configured.')]);
  }
  async function drain(upstream, target, on) {
    try {
      await api('../upstreams/' + encodeURIComponent(upstream) + '/' + (on ? 'drain' : 'undrain') + '?target=' + encodeURIComponent(target), { method: 'POST' });
    } catch (e) {
      if (!(e instanceof AuthError)) setLive(false, e.message);
    }
    tick();
  }

  // Routes.
  function describeMatch(m) {
    const parts = [];
    if (m.Methods && m.Methods.length) parts.push(m.Methods.join(','));
    if (m.Host) parts.push(m.Host);
    if (m.Path) parts.push(m.Path);
    if (m.PathRegex) parts.push('~' + m.PathRegex);
    for (const k in m.Headers || {}) parts.push(k + ': ' + m.Headers[k]);
    return parts.join(' ') || '(everything)';
  }
  async function routes() {
    const [rs, perRoute] = await Promise.all([api('../routes'), api('../analytics?dimension=route&window=1m')]);
    const traffic = {};
    for (const r of perRoute.series) traffic[r.name] = r.summary;
    const rows = rs.routes.map((r) => {
      const t = traffic[r.name] || {};
      return el('tr', null,
        el('td', null, el('a', { href: '#requests', onclick: () => { $('#req-filter').route.value = r.name; } }, r.name)),
        el('td', { class: 'mono' }, describeMatch(r.match || {})),
        el('td', null, r.upstream || '–'),
        el('td', { class: 'num' }, fmtNum(t.rps || 0)),
        el('td', { class: 'num' }, fmtDur(t.p99 || 0)),
        el('td', { class: 'num' }, fmtPct(t.error_rate_5xx || 0)));
    });
    fill($('#routes-table tbody'), rows);
    loadRouteOptions(rs.routes);
  }
  function loadRouteOptions(list) {
    const sel = $('#req-filter').route;
    const have = $$('option', sel).map((o) => o.value).join(',');
    const want = [''].concat(list.map((r) => r.name)).join(',');
    if (have === want) return;
    const cur = sel.value;
    fill(sel, el('option', { value: '' }, 'any'), list.map((r) => el('option', { value: r.name }, r.name)));
    sel.value = cur;
  }

  // Recent requests with filters, and one request's detail.
  async function requests() {
    const f = $('#req-filter');
    if (!state.routesLoaded) {
      state.routesLoaded = true;
      api('../routes').then((rs) => loadRouteOptions(rs.routes)).catch(() => { state.routesLoaded = false; });
    }
    const q = new URLSearchParams({ limit: '100' });
    for (const k of ['route', 'status', 'min_duration']) if (f[k].value.trim()) q.set(k, f[k].value.trim());
    const err = $('#req-error');
    let res;
    try {
      res = await api('../analytics/requests?' + q);
      err.hidden = true;
    } catch (e) {
      if (e instanceof AuthError) throw e;
      err.textContent = e.message;
      err.hidden = false;
      return;
    }
    $('#req-count').textContent = res.requests.length + ' shown';
    const rows = res.requests.map((r) => el('tr', { class: r.id === state.selected ? 'selected' : '', 'data-id': r.id, onclick: () => showRequest(r.id) },
      el('td', { class: 'mono' }, fmtClock(r.time, true)),
      el('td', null, r.method),
      el('td', { class: 'mono' }, r.path.length > 60 ? r.path.slice(0, 60) + '…' : r.path),
      el('td', { class: 'num ' + statusClass(r.status) }, r.status),
      el('td', { class: 'num' }, fmtDur(r.duration)),
      el('td', null, r.route || '–'),
      el('td', { class: 'mono' }, r.target || '–')));
    fill($('#requests-table tbody'), rows.length ? rows : [el('tr', null, el('td', { colspan: 7, class: 'empty' }, 'No recent request matches.'))]);
  }
  async function showRequest(id) {
    state.selected = id;
    $$('#requests-table tbody tr').forEach((tr) => tr.classList.toggle('selected', tr.dataset.id === id));
    let r;
    try { r = await api('../analytics/requests/' + encodeURIComponent(id)); } catch (e) { if (!(e instanceof AuthError)) setLive(false, e.message); return; }
    // Each bar is a share of the whole request, measured from its start.
    const total = Math.max(r.duration, 1e-9);
    const bar = (label, len, color) => el('div', { class: 'row' }, el('span', { class: 'muted' }, label),
      el('div', { class: 'track' }, el('div', { class: 'bar', style: 'width:' + Math.min(100, Math.max(0.8, 100 * len / total)).toFixed(2) + '%;background:' + color })),
      el('span', { class: 'mono num' }, fmtDur(len)));
    const kv = [
      ['Request id', r.id], ['Time', new Date(r.time).toISOString()], ['Method', r.method], ['Host', r.host], ['Path', r.path],
      ['Protocol', r.proto], ['Status', r.status], ['Route', r.route || '–'], ['Upstream', r.upstream || '–'], ['Target', r.target || '–'],
      ['Consumer', r.consumer || '–'], ['Client IP', r.client_ip || '–'], ['User agent', r.user_agent || '–'], ['Listener', r.listener],
      ['Retries', r.retries], ['Bytes in', fmtBytes(r.bytes_in)], ['Bytes out', fmtBytes(r.bytes_out)],
    ];
    if (r.error) kv.push(['aya error', r.error]);
    if (r.truncated) kv.push(['Note', 'some fields were longer than the store keeps and were cut']);
    fill($('#req-detail-body'),
      el('p', null, el('span', { class: 'badge ' + (r.status >= 500 ? 'crit' : r.status >= 400 ? 'warn' : 'ok') }, r.status), ' ', el('span', { class: 'mono' }, r.method + ' ' + r.path)),
      el('div', { class: 'timeline' },
        bar('total', r.duration, colors[1]),
        r.ttfb > 0 ? bar('first byte', r.ttfb, colors[3]) : null,
        bar('in upstream', r.upstream_time, colors[0])),
      el('dl', { class: 'kv' }, kv.map(([k, v]) => [el('dt', null, k), el('dd', null, String(v))]).flat()));
    $('#req-detail').hidden = false;
  }
  $('#req-close').addEventListener('click', () => { $('#req-detail').hidden = true; state.selected = ''; });
  $('#req-filter').addEventListener('submit', (ev) => { ev.preventDefault(); requests(); });
  $('#req-filter').addEventListener('change', () => requests());

  // Alerts.
  const sevBadge = { critical: 'crit', warning: 'warn', info: 'info' };
  function renderAlertBadge(n, crit) {
    const b = $('#alert-badge');
    b.hidden = n === 0;
    b.textContent = n;
    b.className = 'badge ' + (crit ? 'crit' : 'warn');
    $('#stat-alerts').textContent = n;
    $('#stat-alerts').parentElement.classList.toggle('alarm', n > 0);
  }
  function renderAlerts(a) {
    fill($('#alerts-firing'), a.firing.length ? a.firing.map((x) => el('div', { class: 'alert ' + x.severity },
      el('span', { class: 'badge ' + (sevBadge[x.severity] || '') }, x.severity),
      el('span', { class: 'msg' }, x.message),
      el('span', { class: 'since', title: x.starts_at }, 'for ' + fmtAgo(x.starts_at)),
      el('span', { class: 'meta' }, x.type === 'anomaly' ? 'anomaly detector · ' + x.subject : 'rule ' + x.rule + ' · ' + x.subject))) : [el('p', { class: 'empty' }, 'Nothing is firing.')]);
    const lasted = (x) => fmtDur((new Date(x.ends_at) - new Date(x.starts_at)) / 1000);
    fill($('#alerts-resolved tbody'), a.resolved.length ? a.resolved.slice(0, 30).map((x) => el('tr', null,
      el('td', { class: 'mono' }, fmtClock(x.ends_at)),
      el('td', null, el('span', { class: 'badge ' + (sevBadge[x.severity] || '') }, x.severity)),
      el('td', { class: 'wrap' }, x.message),
      el('td', { class: 'num' }, lasted(x)))) : [el('tr', null, el('td', { colspan: 4, class: 'empty' }, 'No alert resolved yet.'))]);
    const thr = (r) => r.type === 'error_rate' ? fmtPct(r.threshold) : r.type === 'p99' ? fmtDur(r.threshold) : r.type === 'rate_limit_spike' ? fmtNum(r.threshold) + '/s and ' + r.factor + '× the hour before' : '–';
    fill($('#alerts-rules tbody'), a.rules.length ? a.rules.map((r) => el('tr', null,
      el('td', null, r.name), el('td', null, r.type.replace(/_/g, ' ')),
      el('td', null, r.route ? 'route ' + r.route : r.upstream ? 'upstream ' + r.upstream : 'all'),
      el('td', null, thr(r)), el('td', null, (r.window || '–') + (r.for ? ' (for ' + r.for + ')' : '')),
      el('td', null, el('span', { class: 'badge ' + (sevBadge[r.severity] || '') }, r.severity)))) : [el('tr', null, el('td', { colspan: 6, class: 'empty' }, 'No rules configured (alerts.rules).'))]);
    const an = a.anomaly;
    $('#alerts-anomaly').textContent = an.enabled
      ? 'Anomaly detector on: each route’s request rate, p95 latency and 5xx rate, sampled every ' + an.interval + ', flagged beyond ' + an.sensitivity + ' standard deviations (routes above ' + an.min_rps + ' req/s). Webhooks: ' + a.webhooks + '.'
      : 'Anomaly detector off. Webhooks: ' + a.webhooks + '.';
  }

  // TPS pools: GET /tps is a snapshot, so the page keeps the last five minutes itself.
  function recordTPS(t) {
    const now = Date.now();
    for (const p of t.pools) {
      const h = state.tpsHistory[p.name] || (state.tpsHistory[p.name] = []);
      const alloc = {};
      for (const s of p.services) alloc[s.name] = s.allocation;
      h.push({ t: now, capacity: p.capacity, effective: p.effective_capacity, alloc: alloc });
      if (h.length > TPS_KEEP) h.splice(0, h.length - TPS_KEEP);
    }
  }
  const prioBadge = { critical: 'crit', high: 'warn', medium: 'info', low: '' };
  function renderTPS(t) {
    const existing = {};
    $$('#tps-pools > .pool').forEach((c) => { existing[c.dataset.pool] = c; });
    const cards = t.pools.map((p) => {
      let card = existing[p.name];
      if (!card) {
        card = el('div', { class: 'card pool', 'data-pool': p.name },
          el('div', { class: 'pool-head' }, el('h2', null, 'Pool ', el('span', { class: 'mono' }, p.name)), el('div', { class: 'pool-facts' })),
          el('div', { class: 'pool-grid' },
            el('figure', null, el('figcaption', null, 'Allocation per service (req/s), stacked', el('span', { class: 'legend' })), el('canvas', { class: 'tall' })),
            el('div', { class: 'scroll' }, el('table', { class: 'tps-services' },
              el('thead', null, el('tr', null, ['Service', 'Priority', 'Allocation', 'Demand', 'Served', 'Rejected', 'Queued', 'Served · rejected · allocation'].map((h, i) => el('th', { class: i >= 2 && i <= 6 ? 'num' : '' }, h)))),
              el('tbody')))));
      }
      fill($('.pool-facts', card),
        el('span', null, 'allocator ', el('b', null, p.allocator)),
        el('span', null, 'cap ', el('b', null, fmtNum(p.capacity) + '/s')),
        el('span', null, 'effective ', el('b', null, fmtNum(p.effective_capacity) + '/s')),
        el('span', null, 'queued ', el('b', null, p.queued)),
        el('span', null, 'upstream 429s ', el('b', null, p.upstream_429)),
        p.paused_for_seconds > 0 ? el('span', { class: 'badge crit' }, 'paused ' + fmtDur(p.paused_for_seconds)) : null);
      const hist = state.tpsHistory[p.name] || [];
      const series = p.services.map((s, i) => ({ name: s.name, color: colors[i % colors.length], values: hist.map((h) => h.alloc[s.name] || 0) }));
      Charts.chart($('canvas', card), {
        times: hist.map((h) => h.t), series: series, stacked: true, format: fmtNum,
        lines: [
          { value: p.capacity, color: cssVar('--crit'), dash: [6, 4], label: 'cap ' + fmtNum(p.capacity) + '/s' },
          { value: p.effective_capacity, color: cssVar('--muted'), dash: [2, 3] },
        ],
      });
      fill($('figcaption .legend', card), series.map((s) => el('span', null, el('i', { style: 'background:' + s.color }), s.name)));
      const top = Math.max(1, ...p.services.map((s) => Math.max(s.demand, s.allocation)));
      fill($('tbody', card), p.services.map((s, i) => el('tr', { class: 'tps-service', 'data-service': s.name },
        el('td', null, el('span', { class: 'swatch', style: 'background:' + colors[i % colors.length] }), s.name),
        el('td', null, el('span', { class: 'badge ' + (prioBadge[s.priority] || '') }, s.priority)),
        el('td', { class: 'num' }, fmtNum(s.allocation)),
        el('td', { class: 'num' }, fmtNum(s.demand)),
        el('td', { class: 'num' }, fmtNum(s.served)),
        el('td', { class: 'num' + (s.rejected > 0 ? ' st5' : '') }, fmtNum(s.rejected)),
        el('td', { class: 'num' }, s.queued),
        el('td', { class: 'bar-cell' }, el('div', { class: 'svc-bar', title: 'served (green) and rejected (red) against demand; the mark is the allocation' },
          el('div', { class: 'served', style: 'width:' + (100 * s.served / top).toFixed(1) + '%' }),
          el('div', { class: 'rejected', style: 'left:' + (100 * s.served / top).toFixed(1) + '%;width:' + (100 * s.rejected / top).toFixed(1) + '%' }),
          el('div', { class: 'alloc', style: 'left:' + Math.min(99.5, 100 * s.allocation / top).toFixed(1) + '%' }))))));
      renderLearned(card, p);
      return card;
    });
    fill($('#tps-pools'), cards.length ? cards : [el('div', { class: 'card empty' }, 'No TPS pools configured (tps.pools).')]);
  }

  // LLM: the call log and the keys; per-model figures are computed from the calls listed.
  function fmtUSD(v) { return '$' + (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(4)); }
  function median(xs) {
    if (!xs.length) return NaN;
    const s = xs.slice().sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  }
  async function llm() {
    let keys, calls;
    try {
      [keys, calls] = await Promise.all([api('../llm/keys'), api('../llm/calls?limit=500')]);
    } catch (e) {
      if (e instanceof AuthError) throw e;
      $('#llm-off').hidden = false;
      $('#llm-on').hidden = true;
      return;
    }
    $('#llm-off').hidden = true;
    $('#llm-on').hidden = false;
    const models = {};
    for (const c of calls.calls) {
      const k = (c.model || '–') + '\u0000' + (c.provider || '–');
      const m = models[k] || (models[k] = { model: c.model || '–', provider: c.provider || '–', calls: 0, errors: 0, input: 0, output: 0, cost: 0, ttft: [], dur: [] });
      m.calls++;
      if (c.status >= 400) m.errors++;
      m.input += c.input_tokens;
      m.output += c.output_tokens;
      m.cost += c.cost_usd;
      if (c.ttft_ms) m.ttft.push(c.ttft_ms / 1000);
      m.dur.push(c.duration_ms / 1000);
    }
    const rows = Object.values(models).sort((a, b) => b.calls - a.calls).map((m) => el('tr', { class: 'llm-model', 'data-model': m.model },
      el('td', null, m.model), el('td', null, m.provider),
      el('td', { class: 'num' }, m.calls), el('td', { class: 'num' + (m.errors ? ' st5' : '') }, m.errors),
      el('td', { class: 'num' }, fmtNum(m.input)), el('td', { class: 'num' }, fmtNum(m.output)),
      el('td', { class: 'num' }, fmtUSD(m.cost)),
      el('td', { class: 'num' }, fmtDur(median(m.ttft))), el('td', { class: 'num' }, fmtDur(median(m.dur)))));
    fill($('#llm-models tbody'), rows.length ? rows : [el('tr', null, el('td', { colspan: 9, class: 'empty' }, 'No LLM calls yet.'))]);
    fill($('#llm-keys tbody'), keys.keys.map((k) => el('tr', { class: 'llm-key', 'data-key': k.name },
      el('td', null, k.name), el('td', null, k.origin),
      el('td', { class: 'num' }, fmtNum(k.requests)), el('td', { class: 'num' }, fmtNum(k.input_tokens)), el('td', { class: 'num' }, fmtNum(k.output_tokens)),
      el('td', { class: 'num' }, fmtUSD(k.cost_usd)),
      el('td', null, k.budget ? [k.budget.tokens ? fmtNum(k.budget.used_tokens) + ' / ' + fmtNum(k.budget.tokens) + ' tok ' : '',
        k.budget.usd ? fmtUSD(k.budget.used_usd) + ' / ' + fmtUSD(k.budget.usd) : '', ' per ' + k.budget.period] : '–'))));
    $('#llm-count').textContent = calls.calls.length + ' shown';
    fill($('#llm-calls tbody'), calls.calls.slice(0, 100).map((c) => el('tr', { class: 'llm-call' },
      el('td', { class: 'mono' }, fmtClock(c.time, true)), el('td', null, c.key), el('td', null, c.model || '–'),
      el('td', { class: 'mono' }, c.provider ? c.provider + '/' + c.deployment : '–'),
      el('td', { class: 'num ' + statusClass(c.status), title: c.error || '' }, c.status),
      el('td', { class: 'num' }, c.input_tokens), el('td', { class: 'num' }, c.output_tokens),
      el('td', { class: 'num' }, fmtUSD(c.cost_usd)),
      el('td', { class: 'num' }, c.ttft_ms ? fmtDur(c.ttft_ms / 1000) : '–'), el('td', { class: 'num' }, fmtDur(c.duration_ms / 1000)))));
  }

  // The learned allocator beside waterfill: what each would give every service, which one is
  // enforced and why, drift and retraining.
  function renderLearned(card, p) {
    let box = $('.learned', card);
    if (!p.learned) { if (box) box.remove(); return; }
    if (!box) {
      box = el('div', { class: 'learned' }, el('h3', null, 'Learned policy'), el('div', { class: 'pool-facts' }),
        el('div', { class: 'scroll' }, el('table', { class: 'tps-learned' }, el('thead'), el('tbody'))));
      card.append(box);
    }
    const l = p.learned;
    fill($('.pool-facts', box),
      el('span', null, 'enforced ', el('b', { class: 'learned-enforced' }, l.enforced)),
      l.fallback_reason ? el('span', null, 'because ', el('b', null, l.fallback_reason)) : null,
      el('span', null, 'forecast error ', el('b', null, fmtNum(l.forecast_error))),
      l.drift ? el('span', { class: 'badge warn' }, 'drift') : null,
      l.retraining ? el('span', { class: 'badge warn' }, 'retraining') : null,
      l.candidate ? el('span', { class: 'badge' }, 'retrained model in burn-in · ' + l.burn_in_left + ' ticks left') : null,
      el('span', null, 'retrained ', el('b', null, l.retrained)));
    const head = ['Service', 'Learned', 'Waterfill'].concat(l.candidate ? ['Retrained'] : []);
    fill($('thead', box), el('tr', null, head.map((h, i) => el('th', { class: i ? 'num' : '' }, h))));
    fill($('tbody', box), p.services.map((s) => el('tr', { class: 'tps-learned-row', 'data-service': s.name },
      el('td', null, s.name),
      el('td', { class: 'num' + (l.enforced === 'learned' ? ' strong' : '') }, fmtNum((l.learned || {})[s.name])),
      el('td', { class: 'num' + (l.enforced === 'waterfill' ? ' strong' : '') }, fmtNum((l.waterfill || {})[s.name])),
      l.candidate ? el('td', { class: 'num' }, fmtNum(l.candidate[s.name])) : null)));
  }

  // tick refreshes what is always shown (alert count, TPS history) and the open panel.
  async function tick() {
    if (state.busy || !$('#login').hidden) return;
    state.busy = true;
    try {
      const [alerts, t] = await Promise.all([api('../alerts'), api('../tps')]);
      recordTPS(t);
      renderAlertBadge(alerts.firing.length, alerts.firing.some((a) => a.severity === 'critical'));
      switch (state.tab) {
        case 'overview': await overview(); break;
        case 'upstreams': await upstreams(); break;
        case 'routes': await routes(); break;
        case 'requests': if ($('#req-filter').live.checked || !$('#requests-table tbody').children.length) await requests(); break;
        case 'alerts': renderAlerts(alerts); break;
        case 'tps': renderTPS(t); break;
        case 'llm': await llm(); break;
      }
      const d = new Date();
      setLive(true, 'live · ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()));
    } catch (e) {
      if (!(e instanceof AuthError)) setLive(false, 'cannot reach aya: ' + e.message);
    } finally {
      state.busy = false;
    }
  }

  async function start() {
    try {
      if (!(await checkSession())) return;
    } catch (e) {
      setLive(false, 'cannot reach aya: ' + e.message);
    }
    route();
    tick();
  }
  setInterval(tick, 1000);
  start();
})();
