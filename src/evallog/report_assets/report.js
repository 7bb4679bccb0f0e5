/* evallog report: renders the JSON data blocks of this page (static report), or the same data
   shapes fetched from the JSON endpoints of `evallog view` (live app: META.live). No innerHTML:
   every string from the results goes into the page as text. */
(function () {
  'use strict';

  // ------------------------------------------------------------------ DOM helpers
  var BLOCKED_ATTR = /^(on|style$|href$|src$|srcdoc$|action$|formaction$)/i;
  var PROPS = { value: 1, checked: 1, selected: 1, hidden: 1, disabled: 1, tabIndex: 1 };

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      for (var name in attrs) {
        if (!Object.prototype.hasOwnProperty.call(attrs, name)) continue;
        var v = attrs[name];
        if (v === null || v === undefined || v === false) continue;
        if (name === 'class') el.className = v;
        else if (PROPS[name]) el[name] = v;
        else if (!BLOCKED_ATTR.test(name)) el.setAttribute(name, v === true ? '' : String(v));
      }
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) { child.forEach(function (c) { append(el, c); }); return; }
    if (child instanceof Node) { el.appendChild(child); return; }
    el.appendChild(document.createTextNode(String(child)));
  }
  function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); return el; }
  function byId(id) { return document.getElementById(id); }
  function on(el, type, fn) { el.addEventListener(type, fn); return el; }

  // ------------------------------------------------------------------ formatting
  function fmtInt(n) { return Number(n || 0).toLocaleString('en-US'); }
  function fmtNum(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'number') {
      if (!isFinite(v)) return String(v);
      if (Number.isInteger(v)) return String(v);
      return Math.abs(v) >= 1000 ? v.toFixed(1) : v.toFixed(4);
    }
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }
  function fmtCompact(n) {
    if (n >= 1e6) return (n / 1e6).toFixed(n >= 1e7 ? 0 : 1) + 'M';
    if (n >= 1e4) return Math.round(n / 1e3) + 'k';
    return fmtInt(n);
  }
  function oneLine(s, max) {
    s = String(s === null || s === undefined ? '' : s);
    if (s.length > (max || 240)) s = s.slice(0, max || 240) + '\u2026';
    return s.replace(/\s*\n\s*/g, ' \u23ce ');
  }
  // Row previews of prompts show the end of the prompt, where the question is (few-shot examples and
  // instructions come first). An ending every prompt of the task shares ("\nAnswer:", a fixed
  // instruction) is left out, marked with a trailing ellipsis, so that the question itself shows; the
  // cell is cut at its start. The whole prompt is the cell's tooltip and opens with the row.
  function promptSuffix(samples) {
    var n = Math.min(samples.length, 200);
    if (n < 2) return '';
    var first = samples[0].i, suf = first.length;
    for (var k = 1; k < n; k++) {
      var t = samples[k].i, m = Math.min(suf, t.length), j = 0;
      while (j < m && t.charCodeAt(t.length - 1 - j) === first.charCodeAt(first.length - 1 - j)) j++;
      suf = j;
    }
    var suffix = first.slice(first.length - suf), ws = suffix.search(/\s/);  // whole words only
    suffix = ws >= 0 ? suffix.slice(ws) : '';
    return suffix.length >= 8 ? suffix : '';
  }
  function promptPreview(block, text) {
    if (block.suffix === undefined) block.suffix = promptSuffix(block.samples);
    var s = String(text === null || text === undefined ? '' : text), trail = '';
    var suf = block.suffix;
    if (suf && s.length > suf.length && s.slice(s.length - suf.length) === suf) { s = s.slice(0, s.length - suf.length); trail = ' \u2026'; }
    s = s.replace(/\s+$/, '').replace(/\s*\n\s*/g, ' \u23ce ');
    return (s.length > 240 ? '\u2026' + s.slice(s.length - 240) : s) + trail;
  }
  function plural(n, word) { return fmtInt(n) + ' ' + word + (n === 1 ? '' : 's'); }

  // ------------------------------------------------------------------ data
  var META, RUNS, TASKS, COMPS, TASK_BY_NAME;
  function setMeta(m) {
    META = m;
    RUNS = m.runs || [];
    TASKS = m.tasks || [];
    COMPS = m.comparisons || [];
    TASK_BY_NAME = {};
    TASKS.forEach(function (t) { TASK_BY_NAME[t.name] = t; });
  }
  setMeta(JSON.parse(byId('evallog-meta').textContent));
  var LIVE = META.live && META.live.api ? META.live : null;  // served by `evallog view`
  var PAGE_SIZE = 50;

  // ------------------------------------------------------------------ live: the server's JSON endpoints
  var TOKEN = new URLSearchParams(location.search).get('token');
  if (LIVE && TOKEN) {  // the server set a cookie: keep the token out of the address bar and history
    try { history.replaceState(null, '', location.pathname + location.hash); } catch (e) { /* ignore */ }
  }
  function api(path, params) {
    var qs = new URLSearchParams();
    Object.keys(params || {}).forEach(function (k) {
      var v = params[k];
      if (v !== null && v !== undefined && v !== '') qs.set(k, String(v));
    });
    var q = qs.toString();
    var headers = TOKEN ? { 'X-Evallog-Token': TOKEN } : {};
    return fetch(LIVE.api + path + (q ? '?' + q : ''), { credentials: 'same-origin', cache: 'no-store', headers: headers })
      .then(function (r) {
        if (r.ok) return r.json();
        return r.json().catch(function () { return {}; }).then(function (j) { throw new Error(j.error || ('HTTP ' + r.status)); });
      });
  }
  function runKey(i) { return RUNS[i] ? RUNS[i].key : null; }
  function runIndex(key) {
    for (var i = 0; i < RUNS.length; i++) if (RUNS[i].key === key) return i;
    return -1;
  }
  function runStatus(run) { return run.status || (run.in_progress ? 'running' : 'complete'); }
  function runSamples(i) {
    var run = RUNS[i], n = 0, known = false;
    if (run.counts) {
      Object.keys(run.counts).forEach(function (t) { if (typeof run.counts[t] === 'number') { n += run.counts[t]; known = true; } });
      return known ? n : null;
    }
    TASKS.forEach(function (t) { t.runs.forEach(function (r) { if (r.run === i && r.n_total) { n += r.n_total; known = true; } }); });
    return known ? n : null;
  }

  function taskRun(task, run) {
    var t = TASK_BY_NAME[task];
    if (!t) return null;
    for (var i = 0; i < t.runs.length; i++) if (t.runs[i].run === run) return t.runs[i];
    return null;
  }

  var blockCache = {};
  function decodeBase64(text) {
    if (typeof Uint8Array.fromBase64 === 'function') return Uint8Array.fromBase64(text);
    var bin = atob(text);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }
  function loadBlock(id) {
    if (!blockCache[id]) {
      blockCache[id] = (async function () {
        var el = byId(id);
        if (!el) throw new Error('missing data block ' + id);
        var text = el.textContent;
        if (el.getAttribute('data-encoding') === 'gzip-base64') {
          if (typeof DecompressionStream !== 'function') {
            throw new Error('this browser cannot decompress the embedded samples (DecompressionStream is missing)');
          }
          var bytes = decodeBase64(text.trim());
          var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
          text = await new Response(stream).text();
        }
        var data = JSON.parse(text);
        data.id = id;
        data.hay = new Array(data.samples.length);
        data.index = null;
        return data;
      })();
    }
    return blockCache[id];
  }
  function sampleKey(block, s) { return String(s.d) + '\u0001' + (block.filters[s.f] || ''); }
  function blockIndex(block) {
    if (!block.index) {
      block.index = new Map();
      block.samples.forEach(function (s) { block.index.set(sampleKey(block, s), s); });
    }
    return block.index;
  }
  function haystack(block, k) {
    var hay = block.hay[k];
    if (hay === undefined) {
      var s = block.samples[k];
      hay = (s.i + '\n' + s.t + '\n' + s.r + '\n' + (s.rr || '') + '\n' + (s.ch ? s.ch.join('\n') : '')).toLowerCase();
      block.hay[k] = hay;
    }
    return hay;
  }

  // ------------------------------------------------------------------ state (mirrored in the URL hash)
  var state = {
    view: 'overview', task: null, run: 0, other: '', q: '', correct: 'all', filter: '',
    agree: 'all', sort: 'doc', page: 0, open: null, cmp: 0, a: '', b: ''
  };
  function readHash() {
    var m = /^#\/?([\w-]+)?\??(.*)$/.exec(location.hash || '');
    if (!m) return;
    if (m[1]) state.view = m[1];
    new URLSearchParams(m[2] || '').forEach(function (v, k) {
      if (!(k in state)) return;
      if (k === 'run' || k === 'page' || k === 'cmp') state[k] = parseInt(v, 10) || 0;
      else state[k] = v;
    });
  }
  function writeHash() {
    var p = new URLSearchParams();
    if (state.view === 'samples') {
      ['task', 'run', 'other', 'q', 'correct', 'filter', 'agree', 'sort', 'page', 'open'].forEach(function (k) {
        var v = state[k];
        if (v !== null && v !== '' && !(k === 'page' && v === 0) && !(k === 'correct' && v === 'all') &&
            !(k === 'agree' && v === 'all') && !(k === 'sort' && v === 'doc')) p.set(k, v);
      });
    } else if (state.view === 'compare' && LIVE && state.a !== '') {
      p.set('a', state.a); p.set('b', state.b);
    } else if (state.view === 'compare' && state.cmp) {
      p.set('cmp', state.cmp);
    } else if (state.view === 'overview' && LIVE && state.run) {
      p.set('run', state.run);
    }
    var q = p.toString();
    try { history.replaceState(null, '', '#/' + state.view + (q ? '?' + q : '')); } catch (e) { /* file: URLs in some browsers */ }
  }

  // ------------------------------------------------------------------ generic tables
  function isEmptyHeader(key) { return key === '' || /^_\d+$/.test(key); }
  function recordsOf(x) {
    if (!x) return [];
    if (Array.isArray(x)) return x;
    if (Array.isArray(x.records)) return x.records;
    if (Array.isArray(x.rows) && Array.isArray(x.columns)) {
      return x.rows.map(function (row) {
        if (!Array.isArray(row)) return row;
        var r = {};
        x.columns.forEach(function (c, i) { r[c] = row[i]; });
        return r;
      });
    }
    if (Array.isArray(x.rows)) return x.rows;
    return [];
  }
  function columnsOf(records) {
    var cols = [];
    records.forEach(function (r) {
      Object.keys(r).forEach(function (k) { if (cols.indexOf(k) < 0) cols.push(k); });
    });
    return cols;
  }
  function recordTable(records, opts) {
    opts = opts || {};
    var cols = (opts.columns || columnsOf(records)).filter(function (c) {
      return !(opts.skip && opts.skip(c));
    });
    var numeric = cols.map(function (c) {
      var seen = false;
      for (var i = 0; i < records.length; i++) {
        var v = records[i][c];
        if (typeof v === 'number') seen = true;
        else if (v !== null && v !== undefined && v !== '' && v !== 'N/A') return false;
      }
      return seen;
    });
    var firstCol = cols[0];
    var thead = h('thead', null, h('tr', null, cols.map(function (c, i) {
      return h('th', { class: numeric[i] ? 'num' : null, scope: 'col' }, isEmptyHeader(c) ? '' : (opts.header ? opts.header(c) : c));
    })));
    var tbody = h('tbody');
    records.forEach(function (r, ri) {
      var tr = h('tr', { class: ri > 0 && opts.groupRows && r[firstCol] ? 'group-start' : null });
      cols.forEach(function (c, i) {
        var v = r[c];
        var cell = opts.cell ? opts.cell(c, v, r) : null;
        if (cell instanceof Node) { tr.appendChild(cell); return; }
        var cls = [];
        if (numeric[i]) cls.push('num');
        if (i === 0 && opts.groupRows) cls.push('task');
        tr.appendChild(h('td', { class: cls.join(' ') || null }, Array.isArray(v) || (v && typeof v === 'object') ? JSON.stringify(v) : fmtNum(v)));
      });
      tbody.appendChild(tr);
    });
    return h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: opts.id || null }, thead, tbody));
  }

  // ------------------------------------------------------------------ results tables (make_table records)
  var RESULT_KNOWN = { task: 1, group: 1, alias: 1, version: 1, filter: 1, n_shot: 1, metric: 1, higher_is_better: 1, value: 1, stderr: 1, depth: 1 };
  function fixed4(v) { return typeof v === 'number' ? (isFinite(v) ? v.toFixed(4) : String(v)) : (v === null || v === undefined ? '' : String(v)); }
  function resultsTable(records, id, keyName) {
    var extra = columnsOf(records).filter(function (k) { return !RESULT_KNOWN[k]; });
    var hasVersion = records.some(function (r) { return r.version !== undefined; });
    var head = [keyName === 'group' ? 'Groups' : 'Tasks'];
    if (hasVersion) head.push('Version');
    var labels = META.column_headers || {};  // the CLI table's headers: stderr_clt -> Stderr_CLT
    var extraHead = extra.map(function (k) { return labels[k] || k; });
    head = head.concat(['Filter', 'n-shot', 'Metric', '', 'Value', '', 'Stderr'], extraHead);
    var numericIdx = {};
    head.forEach(function (c, i) { if (c === 'Version' || c === 'n-shot' || c === 'Value' || c === 'Stderr' || extraHead.indexOf(c) >= 0) numericIdx[i] = 1; });
    var thead = h('thead', null, h('tr', null, head.map(function (c, i) { return h('th', { class: numericIdx[i] ? 'num' : null, scope: 'col' }, c); })));
    var tbody = h('tbody');
    var prev = null;
    records.forEach(function (r) {
      var name = r[keyName];
      var first = name !== prev;
      prev = name;
      var label = r.alias !== undefined && r.alias !== null && r.alias !== '' ? String(r.alias) : String(name);
      var cells = [h('td', { class: 'task depth-' + Math.min(r.depth || 0, 4), title: first && label !== name ? String(name) : null },
        first ? ((r.depth ? '- ' : '') + label) : '')];
      if (hasVersion) cells.push(h('td', { class: 'num' }, first ? fmtNum(r.version) : ''));
      var arrow = r.higher_is_better === true ? '\u2191' : r.higher_is_better === false ? '\u2193' : '';
      cells.push(h('td', null, r.filter === undefined ? '' : String(r.filter)),
        h('td', { class: 'num' }, fmtNum(r.n_shot)),
        h('td', null, r.metric === undefined ? '' : String(r.metric)),
        h('td', { class: 'dim' }, arrow),
        h('td', { class: 'num' }, fixed4(r.value)),
        h('td', { class: 'dim' }, r.stderr !== undefined ? '\u00b1' : ''),
        h('td', { class: 'num' }, r.stderr === null && r.value !== null ? 'N/A' : fixed4(r.stderr)));
      extra.forEach(function (k) { cells.push(h('td', { class: 'num' }, typeof r[k] === 'number' ? fixed4(r[k]) : fmtNum(r[k]))); });
      tbody.appendChild(h('tr', { class: first && tbody.firstChild ? 'group-start' : null, 'data-task': String(name) }, cells));
    });
    return h('div', { class: 'table-wrap' }, h('table', { class: 'data results', id: id }, thead, tbody));
  }

  // ------------------------------------------------------------------ shell
  var app = byId('app');
  var views = {};
  var tabsEl = byId('tabs');
  var TABS = [];
  function computeTabs() {
    var tabs = [['overview', 'Results', RUNS.length]];
    if (META.leaderboard) tabs.push(['leaderboard', 'Leaderboard', null]);
    if (LIVE ? RUNS.length > 1 : COMPS.length) tabs.push(['compare', 'Compare', LIVE ? null : COMPS.length]);
    if (TASKS.length) tabs.push(['samples', 'Samples', TASKS.length]);
    return tabs;
  }
  function subtitle() {
    var sub = [plural(RUNS.length, 'run'), plural(TASKS.length, 'task')];
    var total = 0, embedded = 0;
    TASKS.forEach(function (t) { t.runs.forEach(function (r) { total += r.n_total; embedded += r.n_embedded; }); });
    if (total) sub.push(fmtInt(total) + ' samples' + (embedded < total ? ' (' + fmtInt(embedded) + ' embedded)' : ''));
    if (LIVE) {
      var running = RUNS.filter(function (r) { return runStatus(r) === 'running'; }).length;
      if (running) sub.push(plural(running, 'run') + ' being written');
      sub.push('live \u00b7 evallog ' + META.version);
    } else {
      sub.push('generated ' + META.generated + ' by evallog ' + META.version);
    }
    byId('report-subtitle').textContent = sub.join(' \u00b7 ');
  }

  function buildShell() {
    clear(app);
    clear(tabsEl);
    views = {};
    rendered = {};
    TABS = computeTabs();
    subtitle();
    TABS.forEach(function (t) {
      var btn = h('button', { class: 'tab', role: 'tab', id: 'tab-' + t[0], 'aria-selected': 'false', type: 'button' },
        t[1], t[2] !== null ? h('span', { class: 'count' }, fmtInt(t[2])) : null);
      on(btn, 'click', function () { show(t[0]); });
      tabsEl.appendChild(btn);
      var view = h('section', { class: 'view', id: 'view-' + t[0], role: 'tabpanel', hidden: true });
      views[t[0]] = view;
      app.appendChild(view);
    });
  }
  var rendered = {};
  var RENDER = { overview: renderOverview, leaderboard: renderLeaderboard, compare: renderCompare, samples: renderSamples };
  function show(name) {
    if (!views[name]) name = 'overview';
    state.view = name;
    TABS.forEach(function (t) {
      byId('tab-' + t[0]).setAttribute('aria-selected', t[0] === name ? 'true' : 'false');
      views[t[0]].hidden = t[0] !== name;
    });
    if (!rendered[name]) {
      rendered[name] = true;
      RENDER[name]();
    }
    writeHash();
  }

  // ------------------------------------------------------------------ overview
  function runList() {
    var live = !!LIVE;
    var head = ['Model', 'Date', 'Status', 'Tasks', 'Samples', 'Harness', 'Run id'];
    if (live) head.push('Running means');
    var tbody = h('tbody');
    RUNS.forEach(function (run, i) {
      var st = runStatus(run), n = runSamples(i);
      var tr = h('tr', { class: 'run-row' + (live && i === state.run ? ' selected' : ''), tabindex: '0',
        'data-run': String(i), 'data-key': run.key || null, 'data-status': st },
        h('td', { class: 'task' }, run.model || 'run ' + (i + 1)),
        h('td', { class: 'mono' }, run.timestamp || ''),
        h('td', null, h('span', { class: 'badge run-status ' + (st === 'running' ? 'accent' : st === 'complete' ? 'good' : 'bad') }, st)),
        h('td', { class: 'num' }, fmtInt(run.tasks.length)),
        h('td', { class: 'num run-samples' }, n === null ? '\u2013' : fmtInt(n)),
        h('td', null, run.flavor || ''),
        h('td', { class: 'mono dim' }, run.run_id || ''),
        live ? h('td', { class: 'run-means' }, meansText(run)) : null);
      var pick = function () {
        if (live) { state.run = i; writeHash(); redraw('overview'); }
        else { var el = byId('run-results-' + i); if (el) el.scrollIntoView(); }
      };
      on(tr, 'click', pick);
      on(tr, 'keydown', function (e) { if (e.key === 'Enter') pick(); });
      tbody.appendChild(tr);
    });
    return h('div', { class: 'panel', id: 'run-list-panel' },
      h('div', { class: 'panel-head' }, h('h2', null, 'Runs'), h('span', { class: 'muted' }, plural(RUNS.length, 'run'))),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'run-list' },
        h('thead', null, h('tr', null, head.map(function (c) { return h('th', { scope: 'col', class: c === 'Tasks' || c === 'Samples' ? 'num' : null }, c); }))),
        tbody)));
  }
  function meansText(run) {
    var live = run.live_tasks;
    if (!live) return '';
    var parts = [];
    Object.keys(live).forEach(function (t) {
      var m = live[t].means || {}, names = Object.keys(m);
      if (names.length) parts.push(t + ': ' + names.map(function (k) { return k + ' ' + m[k].toFixed(3); }).join(', ') + ' (' + fmtInt(live[t].n) + ')');
    });
    return parts.join(' \u00b7 ');
  }
  function runPanel(run, i) {
    var panel = h('div', { class: 'panel', id: 'run-results-' + i },
      h('div', { class: 'panel-head' }, h('h2', null, RUNS.length > 1 ? 'Results \u2014 ' + run.label : 'Results'),
        h('span', { class: 'badge' }, run.flavor || '')));
    if (run.results_table) panel.appendChild(resultsTable(run.results_table, 'results-table-' + i, 'task'));
    else panel.appendChild(h('p', { class: 'empty' }, 'No results in this run.'));
    if (run.groups_table) {
      panel.appendChild(h('h3', { class: 'groups-title' }, 'Groups'));
      panel.appendChild(resultsTable(run.groups_table, 'groups-table-' + i, 'group'));
    }
    return panel;
  }
  function runCard(run, i) {
    var kv = h('dl', { class: 'kv' });
    (run.config || []).forEach(function (pair) { kv.appendChild(h('dt', null, pair[0])); kv.appendChild(h('dd', null, pair[1])); });
    if (run.path) { kv.appendChild(h('dt', null, 'path')); kv.appendChild(h('dd', null, run.path)); }
    return h('div', { class: 'card', id: 'run-card-' + i },
      h('h3', null, run.model || 'run ' + (i + 1), run.in_progress ? h('span', { class: 'badge accent' }, 'in progress') : null),
      h('div', { class: 'sub' }, [run.flavor, run.run_id ? 'run id ' + run.run_id : ''].filter(Boolean).join(' \u00b7 ') + ' \u00b7 ' + plural(run.tasks.length, 'task')),
      kv);
  }
  var runDetails = {};  // live: run key -> promise of /api/run
  function renderLiveOverview(view) {
    if (META.errors && META.errors.length) {
      view.appendChild(h('div', { class: 'notice', id: 'scan-errors' },
        'Some files could not be read; their folders show the runs found before: ',
        h('ul', null, META.errors.slice(0, 20).map(function (e) { return h('li', null, e); }))));
    }
    view.appendChild(runList());
    if (!RUNS.length) {
      view.appendChild(h('p', { class: 'empty', id: 'no-runs' }, 'No runs under these folders yet; new runs appear here as they are written.'));
      return;
    }
    if (state.run >= RUNS.length) state.run = 0;
    var i = state.run, run = RUNS[i];
    var holder = h('div', { id: 'run-detail', 'data-run': String(i) }, h('p', { class: 'muted' }, 'Loading\u2026'));
    view.appendChild(holder);
    var key = run.key + '|' + (META.live.version || 0);
    if (!runDetails[key]) runDetails[key] = api('run', { run: run.key });
    runDetails[key].then(function (d) {
      if (RUNS[i] !== run) return;
      var full = Object.assign({}, run, d);
      clear(holder);
      holder.appendChild(h('div', { class: 'cards' }, runCard(full, i)));
      holder.appendChild(runPanel(full, i));
    }).catch(function (err) {
      clear(holder).appendChild(h('p', { class: 'notice' }, 'Could not read this run: ' + err.message));
    });
  }
  function renderOverview() {
    var view = views.overview;
    if (LIVE) { renderLiveOverview(view); return; }
    if (RUNS.length > 1) view.appendChild(runList());
    var capped = [];
    TASKS.forEach(function (t) { t.runs.forEach(function (r) { if (r.capped && r.capped !== 'disabled') capped.push(r); }); });
    if (capped.length) {
      view.appendChild(h('p', { class: 'notice', id: 'cap-notice' },
        'Sample logs were capped for ' + plural(capped.length, 'run/task pair') +
        ' to keep this page small: the Samples tab says what each task embeds (limits: ' +
        fmtInt(META.limits.max_samples) + ' records per task, ' + Math.round(META.limits.max_bytes / 1e6) +
        ' MB of page for sample data, ' + fmtInt(META.limits.max_text) + ' characters per text).'));
    }
    var cards = h('div', { class: 'cards' });
    RUNS.forEach(function (run, i) { cards.appendChild(runCard(run, i)); });
    view.appendChild(cards);
    RUNS.forEach(function (run, i) { view.appendChild(runPanel(run, i)); });
  }
  function redraw(name) {
    if (!views[name]) return;
    clear(views[name]);
    rendered[name] = false;
    if (state.view === name) { rendered[name] = true; RENDER[name](); }
  }

  // ------------------------------------------------------------------ leaderboard
  function renderLeaderboard() {
    var view = views.leaderboard;
    var lb = META.leaderboard;
    var panel = h('div', { class: 'panel' }, h('div', { class: 'panel-head' }, h('h2', null, lb.title || 'Leaderboard'),
      h('span', { class: 'muted' }, plural(lb.rows.length, 'model') + ' \u00b7 latest run of each')));
    // the best value of each column is bold (by the task's higher_is_better)
    var best = lb.headers.map(function (_, j) {
      var hib = lb.higher_is_better[j];
      if (j === 0 || hib === null || hib === undefined) return null;
      var vals = lb.rows.map(function (r) { return r[j]; }).filter(function (v) { return typeof v === 'number'; });
      if (vals.length < 2) return null;
      return hib ? Math.max.apply(null, vals) : Math.min.apply(null, vals);
    });
    var thead = h('thead', null, h('tr', null, lb.headers.map(function (c, j) {
      var hib = lb.higher_is_better[j];
      return h('th', { class: j ? 'num' : null, scope: 'col' }, c + (hib === true ? ' \u2191' : hib === false ? ' \u2193' : ''));
    })));
    var tbody = h('tbody');
    lb.rows.forEach(function (r) {
      tbody.appendChild(h('tr', null, r.map(function (v, j) {
        if (j === 0) return h('td', { class: 'task' }, String(v));
        return h('td', { class: 'num' + (best[j] !== null && v === best[j] ? ' best' : '') }, v === null ? '\u2013' : fixed4(v));
      })));
    });
    panel.appendChild(h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'leaderboard-table' }, thead, tbody)));
    view.appendChild(panel);
  }

  // ------------------------------------------------------------------ compare
  function defaultPair() {
    for (var i = 0; i < RUNS.length; i++) {
      for (var j = i + 1; j < RUNS.length; j++) {
        if (RUNS[i].tasks.some(function (t) { return RUNS[j].tasks.indexOf(t) >= 0; })) return [i, j];
      }
    }
    return [0, Math.min(1, RUNS.length - 1)];
  }
  function renderLiveCompare(view) {
    if (state.a === '' || state.b === '' || !RUNS[+state.a] || !RUNS[+state.b]) {
      var d = defaultPair(); state.a = String(d[0]); state.b = String(d[1]);
    }
    function runSelect(id, value) {
      var sel = h('select', { id: id });
      RUNS.forEach(function (r, i) { sel.appendChild(h('option', { value: String(i), selected: String(i) === value }, r.short + ' \u00b7 ' + r.run_id)); });
      return sel;
    }
    var selA = runSelect('compare-a', state.a), selB = runSelect('compare-b', state.b);
    var body = h('div', { id: 'compare-body' });
    function load() {
      clear(body).appendChild(h('p', { class: 'muted' }, 'Comparing\u2026'));
      view.removeAttribute('data-compare-ready');
      if (state.a === state.b) {
        clear(body).appendChild(h('p', { class: 'empty' }, 'Pick two different runs.'));
        view.setAttribute('data-compare-ready', 'none');
        return;
      }
      var want = state.a + '|' + state.b;
      api('compare', { a: runKey(+state.a), b: runKey(+state.b) }).then(function (res) {
        if (want !== state.a + '|' + state.b) return;
        clear(body);
        if (!res.comparison) {
          body.appendChild(h('p', { class: 'empty', id: 'compare-none' }, res.message || 'Nothing to compare.'));
        } else {
          drawComparison(body, res.comparison);
        }
        view.setAttribute('data-compare-ready', want);
      }).catch(function (err) {
        clear(body).appendChild(h('p', { class: 'notice' }, 'Could not compare: ' + err.message));
        view.setAttribute('data-compare-ready', 'error');
      });
    }
    on(selA, 'change', function () { state.a = selA.value; writeHash(); load(); });
    on(selB, 'change', function () { state.b = selB.value; writeHash(); load(); });
    view.appendChild(h('div', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h2', null, 'Comparison'),
        h('label', { class: 'field' }, h('span', null, 'A'), selA), h('label', { class: 'field' }, h('span', null, 'B'), selB)),
      body));
    load();
  }
  function renderCompare() {
    var view = views.compare;
    if (LIVE) { renderLiveCompare(view); return; }
    var sel = h('select', { id: 'compare-pair' });
    COMPS.forEach(function (c, i) {
      sel.appendChild(h('option', { value: String(i), selected: i === state.cmp }, RUNS[c.a].short + '  vs  ' + RUNS[c.b].short));
    });
    var body = h('div');
    on(sel, 'change', function () { state.cmp = parseInt(sel.value, 10) || 0; draw(); writeHash(); });
    view.appendChild(h('div', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h2', null, 'Comparison'),
        COMPS.length > 1 ? h('label', { class: 'field' }, h('span', null, 'Pair'), sel) : null),
      body));
    function draw() {
      clear(body);
      drawComparison(body, COMPS[state.cmp] || COMPS[0]);
    }
    draw();
  }
  function drawComparison(body, c) {
    {
      body.appendChild(h('dl', { class: 'kv pair' },
        h('dt', null, 'A'), h('dd', null, RUNS[c.a].label),
        h('dt', null, 'B'), h('dd', null, RUNS[c.b].label)));
      var iDelta = -1, iP = -1, iFlag = -1, iMetric = -1;
      c.headers.forEach(function (hd, i) {
        if (/^\u0394/.test(hd)) iDelta = i;
        else if (hd === 'p') iP = i;
        else if (hd === 'Flag') iFlag = i;
        else if (hd === 'Metric') iMetric = i;
      });
      var thead = h('thead', null, h('tr', null, c.headers.map(function (hd, i) {
        return h('th', { class: i >= 3 && i !== iFlag && hd !== 'Test' && !/CI/.test(hd) ? 'num' : null, scope: 'col' }, hd);
      })));
      var tbody = h('tbody');
      c.rows.forEach(function (row, ri) {
        var lowerBetter = iMetric >= 0 && /\u2193$/.test(String(row[iMetric]));
        tbody.appendChild(h('tr', { class: ri > 0 && row[0] !== c.rows[ri - 1][0] ? 'group-start' : null }, row.map(function (v, i) {
          if (i === iDelta && typeof v === 'number') {
            var good = lowerBetter ? v < 0 : v > 0;
            return h('td', { class: 'num ' + (v === 0 ? '' : good ? 'delta-pos' : 'delta-neg') }, (v > 0 ? '+' : '') + v.toFixed(4));
          }
          if (i === iP && typeof v === 'number') {
            return h('td', { class: 'num' + (v < c.alpha ? ' sig' : '') }, v < 0.0001 ? v.toExponential(1) : v.toFixed(4));
          }
          if (i === iFlag) {
            return h('td', null, v ? h('span', { class: 'badge ' + (/not/.test(v) ? 'bad' : 'accent') }, String(v)) : '');
          }
          if (typeof v === 'number') return h('td', { class: 'num' }, Number.isInteger(v) && i > 5 ? String(v) : fixed4(v));
          return h('td', { class: i === 0 ? 'task' : null }, v === null || v === undefined ? '' : String(v));
        })));
      });
      body.appendChild(h('div', { class: 'table-wrap' }, h('table', { class: 'data', id: 'compare-table' }, thead, tbody)));
      if (c.notes.length) {
        body.appendChild(h('ul', { class: 'notes' }, c.notes.map(function (n) { return h('li', null, n); })));
      }
      if (c.flips.length) {
        var box = h('div', { class: 'flips', id: 'compare-flips' }, h('h3', null, 'Flipped samples'),
          h('p', { class: 'summary-line' }, 'Samples right in one run and wrong in the other; open one to see both responses side by side.'));
        c.flips.forEach(function (f) {
          [['right_to_wrong', 'A \u2713  B \u2717'], ['wrong_to_right', 'A \u2717  B \u2713']].forEach(function (dir) {
            var ids = f[dir[0] + '_ids'];
            if (!ids.length) return;
            var line = h('div', { class: 'flip-line' },
              h('span', { class: 'flip-label' }, f.task + ' \u00b7 ' + f.filter + ' \u00b7 ' + f.metric),
              h('span', { class: 'badge ' + (dir[0] === 'right_to_wrong' ? 'bad' : 'good') }, dir[1] + '  ' + fmtInt(f[dir[0]])));
            var links = h('span', { class: 'flip-ids' });
            ids.slice(0, 120).forEach(function (d) {
              var b = h('button', { class: 'doc-link', type: 'button', 'data-doc': String(d) }, String(d));
              on(b, 'click', function () { gotoSample(f.task, c.a, c.b, f.filter, d); });
              links.appendChild(b);
            });
            if (f[dir[0]] > 120) links.appendChild(h('span', { class: 'muted' }, '\u2026 ' + fmtInt(f[dir[0]] - 120) + ' more'));
            line.appendChild(links);
            box.appendChild(line);
          });
        });
        body.appendChild(box);
      }
    }
  }
  function gotoSample(task, runA, runB, filter, doc) {
    state.task = task; state.run = runA; state.other = String(runB); state.filter = filter;
    state.q = ''; state.correct = 'all'; state.agree = 'all'; state.page = 0;
    state.open = String(doc) + '\u0001' + filter;
    if (rendered.samples) {
      S.search.value = ''; S.correct.value = 'all'; S.agree.value = 'all';
      show('samples');
      selectTask(task, true);
    } else {
      show('samples');
    }
  }

  // ------------------------------------------------------------------ samples
  var S = {}; // elements of the samples view
  var current = { block: null, other: null, rows: [], sig: '' };

  function renderSamples() {
    var view = views.samples;
    var taskFilter = h('input', { type: 'search', id: 'task-search', placeholder: 'Find a task', 'aria-label': 'Find a task' });
    var list = h('div', { id: 'task-list' });
    TASKS.forEach(function (t) {
      var n = 0;
      t.runs.forEach(function (r) { n = Math.max(n, r.n_total); });
      var btn = h('button', { class: 'task-item', type: 'button', 'data-task': t.name, title: t.name },
        h('span', { class: 'name' }, t.name), h('span', { class: 'n' }, n ? fmtCompact(n) : '\u2013'));
      on(btn, 'click', function () { selectTask(t.name); });
      list.appendChild(btn);
    });
    on(taskFilter, 'input', function () {
      var q = taskFilter.value.trim().toLowerCase();
      Array.prototype.forEach.call(list.children, function (b) {
        b.hidden = q !== '' && b.getAttribute('data-task').toLowerCase().indexOf(q) < 0;
      });
    });

    S.title = h('h2', { id: 'samples-title' });
    S.scores = h('div', { class: 'chips', id: 'samples-scores' });
    S.run = h('select', { id: 'run-select', 'aria-label': 'Run' });
    S.other = h('select', { id: 'other-select', 'aria-label': 'Side by side with' });
    S.search = h('input', { type: 'search', id: 'sample-search', placeholder: 'Search prompt, target, response', 'aria-label': 'Search samples' });
    S.correct = h('select', { id: 'filter-correct', 'aria-label': 'Correctness' },
      h('option', { value: 'all' }, 'All'), h('option', { value: 'correct' }, 'Correct'), h('option', { value: 'incorrect' }, 'Incorrect'));
    S.filter = h('select', { id: 'filter-name', 'aria-label': 'Filter' });
    S.agree = h('select', { id: 'filter-agree', 'aria-label': 'Agreement' },
      h('option', { value: 'all' }, 'All'), h('option', { value: 'differs' }, 'Differs'),
      h('option', { value: 'a-only' }, 'Only this run correct'), h('option', { value: 'b-only' }, 'Only the other correct'));
    S.sort = h('select', { id: 'sort', 'aria-label': 'Sort' },
      h('option', { value: 'doc' }, LIVE ? 'File order' : 'Doc id \u2191'), h('option', { value: 'doc-desc' }, 'Doc id \u2193'),
      h('option', { value: 'metric-desc' }, 'Metric \u2193'), h('option', { value: 'metric-asc' }, 'Metric \u2191'),
      h('option', { value: 'input-len' }, 'Longest prompt'), h('option', { value: 'resp-len' }, 'Longest response'));
    S.runField = h('label', { class: 'field' }, h('span', null, 'Run'), S.run);
    S.otherField = h('label', { class: 'field' }, h('span', null, 'Side by side with'), S.other);
    S.agreeField = h('label', { class: 'field' }, h('span', null, 'Agreement'), S.agree);
    S.filterField = h('label', { class: 'field' }, h('span', null, 'Filter'), S.filter);
    S.notice = h('p', { class: 'notice', id: 'samples-notice', hidden: true });
    S.summary = h('p', { class: 'summary-line', id: 'samples-summary' });
    S.body = h('div', { id: 'samples-body' });
    S.pager = h('div', { class: 'pager', id: 'pager' });
    var browser = h('div', { class: 'panel', id: 'sample-browser' },
      h('div', { class: 'panel-head' }, S.title, S.scores),
      h('div', { class: 'toolbar' },
        h('label', { class: 'field' }, h('span', null, 'Search'), S.search),
        h('label', { class: 'field' }, h('span', null, 'Correctness'), S.correct),
        S.filterField, h('label', { class: 'field' }, h('span', null, 'Sort'), S.sort),
        S.runField, S.otherField, S.agreeField),
      S.notice, S.summary, S.body, S.pager);
    view.appendChild(h('div', { class: 'samples-layout' },
      h('aside', { class: 'tasklist' }, taskFilter, list), browser));
    S.list = list;

    var timer = null;
    on(S.search, 'input', function () {
      clearTimeout(timer);
      timer = setTimeout(function () { state.q = S.search.value; state.page = 0; refresh(); }, 120);
    });
    on(S.correct, 'change', function () { state.correct = S.correct.value; state.page = 0; refresh(); });
    on(S.filter, 'change', function () { state.filter = S.filter.value; state.page = 0; refresh(); });
    on(S.agree, 'change', function () { state.agree = S.agree.value; state.page = 0; refresh(); });
    on(S.sort, 'change', function () { state.sort = S.sort.value; state.page = 0; refresh(); });
    on(S.run, 'change', function () { state.run = parseInt(S.run.value, 10); state.page = 0; state.other = ''; loadTask(); });
    on(S.other, 'change', function () { state.other = S.other.value; state.page = 0; loadTask(); });

    S.search.value = state.q;
    S.correct.value = state.correct;
    S.sort.value = state.sort;
    S.agree.value = state.agree;
    var first = state.task && TASK_BY_NAME[state.task] ? state.task : firstTaskWithSamples();
    selectTask(first, true);
  }
  function firstTaskWithSamples() {
    for (var i = 0; i < TASKS.length; i++) if (TASKS[i].runs.some(function (r) { return r.block; })) return TASKS[i].name;
    return TASKS.length ? TASKS[0].name : null;
  }
  function selectTask(name, keepState) {
    var t = TASK_BY_NAME[name];
    if (!t) return;
    if (!keepState || state.task !== name) {
      if (!keepState) { state.page = 0; state.filter = ''; state.open = null; }
    }
    state.task = name;
    Array.prototype.forEach.call(S.list.children, function (b) {
      b.setAttribute('aria-current', b.getAttribute('data-task') === name ? 'true' : 'false');
    });
    var runsHere = t.runs.map(function (r) { return r.run; });
    if (runsHere.indexOf(state.run) < 0) {
      var withBlock = t.runs.filter(function (r) { return r.block; });
      state.run = (withBlock[0] || t.runs[0]).run;
    }
    if (!keepState) state.other = '';
    loadTask();
  }
  function defaultOther(t) {
    var candidates = t.runs.filter(function (r) { return r.run !== state.run && r.block; }).map(function (r) { return r.run; });
    for (var i = 0; i < COMPS.length; i++) {
      var c = COMPS[i];
      if (c.a === state.run && candidates.indexOf(c.b) >= 0) return c.b;
      if (c.b === state.run && candidates.indexOf(c.a) >= 0) return c.a;
    }
    return candidates.length ? candidates[0] : null;
  }
  function loadTask() {
    var t = TASK_BY_NAME[state.task];
    var tr = taskRun(state.task, state.run);
    views.samples.removeAttribute('data-samples-ready');
    S.title.textContent = t.name;
    clear(S.scores);
    t.runs.forEach(function (r) {
      if (!r.score) return;
      S.scores.appendChild(h('span', { class: 'chip', title: RUNS[r.run].label },
        h('b', null, RUNS.length > 1 ? RUNS[r.run].short : r.score.metric + (r.score.filter ? ' \u00b7 ' + r.score.filter : '')),
        fmtNum(r.score.value)));
    });
    // run and side-by-side selectors
    clear(S.run);
    t.runs.forEach(function (r) { S.run.appendChild(h('option', { value: String(r.run), selected: r.run === state.run }, RUNS[r.run].short)); });
    S.runField.hidden = t.runs.length < 2;
    clear(S.other);
    S.other.appendChild(h('option', { value: 'none' }, 'None'));
    t.runs.forEach(function (r) {
      if (r.run !== state.run && r.block) S.other.appendChild(h('option', { value: String(r.run) }, RUNS[r.run].short));
    });
    if (state.other === '') { var d = defaultOther(t); state.other = d === null ? 'none' : String(d); }
    if (!S.other.querySelector('option[value="' + state.other + '"]')) state.other = 'none';
    S.other.value = state.other;
    S.otherField.hidden = S.other.options.length < 2;
    S.agreeField.hidden = state.other === 'none';

    S.notice.hidden = true;
    clear(S.body); clear(S.pager);
    if (!tr || !tr.block) {
      S.summary.textContent = '';
      S.filterField.hidden = true;
      S.body.appendChild(h('p', { class: 'empty', id: 'samples-empty' }, tr && tr.capped === 'disabled'
        ? 'Samples were left out of this report.'
        : 'This run has no per-sample log for this task.'));
      views.samples.setAttribute('data-samples-ready', 'none');
      writeHash();
      return;
    }
    S.summary.textContent = 'Loading ' + fmtInt(tr.n_embedded) + ' samples\u2026';
    var otherTr = state.other !== 'none' ? taskRun(state.task, parseInt(state.other, 10)) : null;
    current.filtersShown = null;
    if (LIVE) {
      current.block = { id: runKey(state.run) + '\u0001' + state.task, live: true, samples: [], filters: [], metrics: [] };
      current.other = otherTr ? { id: runKey(otherTr.run), live: true } : null;
      current.otherRun = otherTr ? otherTr.run : null;
      current.sig = '';
      refresh();
      return;
    }
    var want = state.task + '|' + state.run + '|' + state.other;
    var loadStart = performance.now();
    Promise.all([loadBlock(tr.block), otherTr && otherTr.block ? loadBlock(otherTr.block) : null]).then(function (res) {
      if (want !== state.task + '|' + state.run + '|' + state.other) return; // superseded
      current.block = res[0];
      current.other = res[1];
      current.otherRun = otherTr ? otherTr.run : null;
      current.sig = '';
      var notes = [];
      if (tr.capped) notes.push(capText(tr));
      if (tr.skipped) notes.push(plural(tr.skipped, 'corrupt line') + ' of the samples file could not be read and ' + (tr.skipped === 1 ? 'is' : 'are') + ' left out.');
      if (notes.length) {
        S.notice.hidden = false;
        S.notice.textContent = notes.join(' ');
      }
      fillFilters(current.block.filters);
      if (state.open !== null) {
        var idx = findOpen(state.open);
        if (idx < 0) state.open = null;
        else {  // show the page holding the sample to open
          var pos = computeRows().indexOf(idx);
          if (pos >= 0) state.page = Math.floor(pos / PAGE_SIZE);
        }
      }
      refresh();
      views.samples.setAttribute('data-load-ms', (performance.now() - loadStart).toFixed(1));
    }).catch(function (err) {
      S.summary.textContent = '';
      S.body.appendChild(h('p', { class: 'notice' }, 'Could not read the samples: ' + (err && err.message ? err.message : err)));
      views.samples.setAttribute('data-samples-ready', 'error');
    });
  }
  function capText(tr) {
    var why = tr.capped === 'max_bytes'
      ? 'the page\u2019s budget for sample data (' + Math.round(META.limits.max_bytes / 1e6) + ' MB, --max-mb) was reached'
      : 'at most ' + fmtInt(META.limits.max_samples) + ' records are embedded per run and task (--max-samples)';
    return 'Showing the first ' + fmtInt(tr.n_embedded) + ' of ' + fmtInt(tr.n_total) + ' samples of this task: ' + why +
      '. Whole documents are kept, with all their filters.';
  }
  function fillFilters(filters) {
    var sig = filters.join('\u0001');
    if (current.filtersShown === sig) return;
    current.filtersShown = sig;
    clear(S.filter);
    S.filter.appendChild(h('option', { value: '' }, 'All filters'));
    filters.forEach(function (f) { S.filter.appendChild(h('option', { value: f }, f)); });
    if (filters.indexOf(state.filter) < 0 && !LIVE) state.filter = '';
    S.filter.value = state.filter;
    S.filterField.hidden = filters.length < 2;
  }
  function findOpen(key) {
    var S_ = current.block.samples;
    for (var k = 0; k < S_.length; k++) if (sampleKey(current.block, S_[k]) === key) return k;
    return -1;
  }
  function docCmp(a, b) {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return String(a).localeCompare(String(b), 'en', { numeric: true });
  }
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : (typeof v === 'boolean' ? +v : -Infinity); }
  function computeRows() {
    var B = current.block;
    var sig = [B.id, current.other ? current.other.id : '', state.q, state.correct, state.filter, state.agree, state.sort].join('\u0002');
    if (sig === current.sig) return current.rows;
    var q = state.q.trim().toLowerCase();
    var fIdx = state.filter ? B.filters.indexOf(state.filter) : -1;
    var otherIdx = current.other ? blockIndex(current.other) : null;
    var agree = otherIdx ? state.agree : 'all';
    var out = [];
    var samples = B.samples;
    for (var k = 0; k < samples.length; k++) {
      var s = samples[k];
      if (state.correct === 'correct' && s.c !== 1) continue;
      if (state.correct === 'incorrect' && s.c !== 0) continue;
      if (fIdx >= 0 && s.f !== fIdx) continue;
      if (agree !== 'all') {
        var o = otherIdx.get(sampleKey(B, s));
        if (!o || o.c === null || s.c === null || o.c === undefined) continue;
        if (agree === 'differs' && o.c === s.c) continue;
        if (agree === 'a-only' && !(s.c === 1 && o.c === 0)) continue;
        if (agree === 'b-only' && !(s.c === 0 && o.c === 1)) continue;
      }
      if (q && String(s.d) !== q && haystack(B, k).indexOf(q) < 0) continue;
      out.push(k);
    }
    var key;
    switch (state.sort) {
      case 'doc-desc': out.sort(function (a, b) { return docCmp(samples[b].d, samples[a].d) || samples[a].f - samples[b].f; }); break;
      case 'metric-desc': out.sort(function (a, b) { return num(samples[b].v[0]) - num(samples[a].v[0]) || a - b; }); break;
      case 'metric-asc': out.sort(function (a, b) { return num(samples[a].v[0]) - num(samples[b].v[0]) || a - b; }); break;
      case 'input-len': key = 'i'; out.sort(function (a, b) { return samples[b][key].length - samples[a][key].length || a - b; }); break;
      case 'resp-len': key = 'r'; out.sort(function (a, b) { return samples[b][key].length - samples[a][key].length || a - b; }); break;
      default: out.sort(function (a, b) { return docCmp(samples[a].d, samples[b].d) || samples[a].f - samples[b].f; });
    }
    current.rows = out;
    current.sig = sig;
    return out;
  }
  function correctBadge(c) {
    if (c === 1) return h('span', { class: 'badge good' }, '\u2713 correct');
    if (c === 0) return h('span', { class: 'badge bad' }, '\u2717 wrong');
    return h('span', { class: 'badge' }, 'n/a');
  }
  // Counts and rates per filter (a task with several filters logs one sample per document and filter),
  // as `evallog show` prints them (evallog.tally).
  // The server sends the same counts for a search it has finished (page.tallies: [{f, n, scored, correct}]).
  function filterTallies(B, rows) {
    var by = {}, order = [];
    rows.forEach(function (k) {
      var s = B.samples[k], t = by[s.f];
      if (!t) { t = by[s.f] = { f: s.f, n: 0, scored: 0, correct: 0 }; order.push(t); }
      t.n++;
      if (s.c === 0 || s.c === 1) { t.scored++; t.correct += s.c; }
    });
    return order;
  }
  function tallyText(tallies, filters, metric) {
    return tallies.map(function (t) {
      var bits = tallies.length > 1 ? [plural(t.n, 'sample')] : [];
      if (t.scored) bits.push(fmtInt(t.correct) + ' correct (' + (100 * t.correct / t.scored).toFixed(1) + '% by ' + metric + ')');
      return (tallies.length > 1 ? (filters[t.f] || String(t.f)) + ': ' : '') + bits.join(', ');
    }).filter(Boolean).join('; ');
  }
  // One page of samples, the same shape from the embedded block (static) or from /api/samples (live):
  // {samples, others?, start, matched, complete, total, metrics, filters, tallies?}
  function staticPage() {
    var B = current.block;
    var rows = computeRows();
    var pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    if (state.page >= pages) state.page = pages - 1;
    if (state.page < 0) state.page = 0;
    var start = state.page * PAGE_SIZE;
    var slice = rows.slice(start, start + PAGE_SIZE);
    var otherIdx = current.other ? blockIndex(current.other) : null;
    return {
      samples: slice.map(function (k) { return B.samples[k]; }), ks: slice,
      others: otherIdx ? slice.map(function (k) { return otherIdx.get(sampleKey(B, B.samples[k])) || null; }) : null,
      start: start, matched: rows.length, complete: true, total: B.samples.length, total_complete: true,
      metrics: B.metrics, filters: B.filters, tallies: rows.length <= 200000 ? filterTallies(B, rows) : null
    };
  }
  var pageSeq = 0;
  function getPage() {
    if (!LIVE) return Promise.resolve(staticPage());
    var seq = ++pageSeq;
    return api('samples', {
      run: runKey(state.run), task: state.task, other: current.other ? current.other.id : '',
      q: state.q.trim(), correct: state.correct, filter: state.filter, agree: current.other ? state.agree : 'all',
      sort: state.sort, page: state.page, size: PAGE_SIZE
    }).then(function (page) {
      if (seq !== pageSeq) return null;  // superseded by a newer request
      return page;
    });
  }
  function refresh() {
    var B = current.block;
    if (!B) return Promise.resolve();
    var t0 = performance.now();
    return getPage().then(function (page) {
      if (!page || current.block !== B) return;
      if (LIVE) {
        B.filters = page.filters; B.metrics = page.metrics;
        fillFilters(page.filters);
        var pages = page.complete ? Math.max(1, Math.ceil(page.matched / PAGE_SIZE)) : null;
        if (pages !== null && state.page >= pages && state.page > 0) { state.page = pages - 1; refresh(); return; }
      }
      renderPage(page, t0);
    }).catch(function (err) {
      clear(S.body).appendChild(h('p', { class: 'notice' }, 'Could not read the samples: ' + (err && err.message ? err.message : err)));
      views.samples.setAttribute('data-samples-ready', 'error');
    });
  }
  function renderPage(page, t0) {
    var B = current.block;
    current.page = page;
    var rows = page.samples;
    var plainAll = page.matched === page.total && page.complete;
    var more = page.complete ? '' : '+';
    var tr = taskRun(state.task, state.run);
    var metric = page.metrics[0] || 'metric';
    var parts = [plainAll ? plural(page.total, 'sample') + (page.total_complete === false ? '+' : '')
      : fmtInt(page.matched) + more + ' of ' + fmtInt(page.total) + (page.total_complete === false ? '+' : '') + ' samples match'];
    var tallies = page.tallies ? tallyText(page.tallies, page.filters, metric) : '';
    if (tallies) parts.push(tallies);
    if (!LIVE && tr && tr.n_total > B.samples.length) parts.push(fmtInt(tr.n_total) + ' in the run');
    var corrupt = rows.filter(function (s) { return s.bad; }).length;
    if (corrupt) parts.push(plural(corrupt, 'corrupt line') + ' on this page');
    S.summary.textContent = parts.join(' \u00b7 ');

    var hasOther = !!current.other;
    var showFilter = page.filters.length > 1;
    var cols = h('colgroup', null, h('col', { class: 'c-id' }), showFilter ? h('col', { class: 'c-filter' }) : null,
      h('col', { class: 'c-ok' }), h('col', { class: 'c-metric' }), h('col', { class: 'c-input' }),
      h('col', { class: 'c-target' }), h('col', { class: 'c-resp' }), hasOther ? h('col', { class: 'c-other' }) : null);
    var head = h('thead', null, h('tr', null,
      h('th', { class: 'num' }, 'Doc'), showFilter ? h('th', null, 'Filter') : null, h('th', null, 'Result'),
      h('th', { class: 'num' }, metric), h('th', null, 'Prompt'), h('th', null, 'Target'), h('th', null, 'Response'),
      hasOther ? h('th', { title: RUNS[current.otherRun].label }, 'Other') : null));
    var body = h('tbody', { id: 'sample-rows' });
    var pageBlock = { samples: rows.filter(function (s) { return !s.bad; }) };  // live: prompt endings of this page
    rows.forEach(function (s, pos) {
      var o = page.others ? page.others[pos] : null;
      var row;
      if (s.bad) {
        row = h('tr', { tabindex: '0', class: 'corrupt', 'data-k': String(pos), 'data-n': s.n !== undefined ? String(s.n) : null },
          h('td', { class: 'num mono' }, s.n !== undefined ? '#' + (s.n + 1) : ''), showFilter ? h('td', null, '') : null,
          h('td', null, h('span', { class: 'badge bad' }, 'corrupt')), h('td', null, ''),
          h('td', { class: 'clip', colspan: '3' }, s.bad + ': ' + oneLine(s.raw, 200)), hasOther ? h('td', null, '') : null);
      } else {
        row = h('tr', { tabindex: '0', 'data-k': String(pos), 'data-n': s.n !== undefined ? String(s.n) : null,
          'data-doc': String(s.d), 'data-filter': page.filters[s.f] || '' },
          h('td', { class: 'num mono' }, String(s.d)),
          showFilter ? h('td', { class: 'clip dim' }, page.filters[s.f] || '') : null,
          h('td', null, correctBadge(s.c)),
          h('td', { class: 'num' }, fmtNum(s.v[0])),
          h('td', { class: 'clip tail prompt', title: s.i }, h('span', null, promptPreview(LIVE ? pageBlock : B, s.i))),
          h('td', { class: 'clip' }, oneLine(s.ch && s.ti !== undefined ? s.ch[s.ti] : s.t, 120)),
          h('td', { class: 'clip' }, oneLine(s.r, 200)),
          hasOther ? h('td', null, o ? correctBadge(o.c) : h('span', { class: 'badge' }, '\u2013')) : null);
      }
      on(row, 'click', function () { openDetail(pos); });
      on(row, 'keydown', function (e) { if (e.key === 'Enter') openDetail(pos); });
      body.appendChild(row);
    });
    clear(S.body);
    if (!rows.length) S.body.appendChild(h('p', { class: 'empty', id: 'samples-none' }, page.complete ? 'No sample matches.' : 'No sample matches yet.'));
    else S.body.appendChild(h('div', { class: 'table-wrap' }, h('table', { class: 'data samples', id: 'samples-table' }, cols, head, body)));

    clear(S.pager);
    var pages = page.complete ? Math.max(1, Math.ceil(page.matched / PAGE_SIZE)) : null;
    var hasNext = pages === null ? rows.length === PAGE_SIZE : state.page < pages - 1;
    if (state.page > 0 || hasNext) {
      var prev = h('button', { class: 'btn', type: 'button', id: 'page-prev', disabled: state.page === 0 }, '\u2190 Prev');
      var next = h('button', { class: 'btn', type: 'button', id: 'page-next', disabled: !hasNext }, 'Next \u2192');
      on(prev, 'click', function () { state.page--; refresh(); });
      on(next, 'click', function () { state.page++; refresh(); });
      S.pager.appendChild(h('span', { id: 'page-info' }, fmtInt(page.start + 1) + '\u2013' + fmtInt(page.start + rows.length) + ' of ' + fmtInt(page.matched) + more +
        ' \u00b7 page ' + fmtInt(state.page + 1) + ' / ' + (pages === null ? '?' : fmtInt(pages))));
      S.pager.appendChild(prev);
      S.pager.appendChild(next);
    }
    views.samples.setAttribute('data-render-ms', (performance.now() - t0).toFixed(1));
    views.samples.setAttribute('data-samples-ready', B.id);
    views.samples.setAttribute('data-total', String(page.total));
    if (LIVE && (page.total_complete === false || !page.complete)) {  // the server is still counting
      var sig = B.id + '|' + state.page;
      setTimeout(function () { if (current.block === B && sig === B.id + '|' + state.page && openPos === -1) refresh(); }, 1500);
    }
    writeHash();
    if (state.open !== null && openPos === -1) {
      var want = state.open;
      for (var p = 0; p < rows.length; p++) {
        if (!rows[p].bad && sampleKey(page, rows[p]) === want) { openDetail(p); return; }
      }
      if (LIVE) openByKey(want); else state.open = null;
    }
  }

  // ------------------------------------------------------------------ detail drawer
  var drawer = byId('detail');
  var openPos = -1;  // position in the current page of the open sample (-1: none, -2: being opened)
  function section(title, content, attrs) {
    return h('div', Object.assign({ class: 'section' }, attrs || {}), h('div', { class: 'section-title' }, title), content);
  }
  function pre(text, cls, id) { return h('pre', { class: 'text' + (cls ? ' ' + cls : ''), id: id || null }, text === '' ? '\u00a0' : text); }
  function metricChips(block, s) {
    return h('div', { class: 'chips' }, block.metrics.map(function (m, i) {
      return h('span', { class: 'chip' }, h('b', null, m), fmtNum(s.v[i]));
    }));
  }
  function choicesList(s, ch) {
    return h('ol', { class: 'choices' }, ch.map(function (c, i) {
      var cls = [];
      if (s.ti === i) cls.push('target');
      if (s.p === i) cls.push('picked');
      return h('li', { class: cls.join(' ') || null },
        h('span', { class: 'idx' }, String(i)), h('span', null, c),
        h('span', { class: 'll' }, s.ll && s.ll[i] !== undefined ? s.ll[i].toFixed(4) : ''),
        h('span', null, s.ti === i ? h('span', { class: 'badge good' }, 'target') : null,
          s.p === i ? h('span', { class: 'badge accent' }, 'picked') : null));
    }));
  }
  function responseBlock(block, s, idPrefix) {
    return [
      section('Response', pre(s.r, null, idPrefix + 'response')),
      s.rr !== undefined ? section('Raw response', pre(s.rr, 'short', idPrefix + 'raw')) : null,
      s.ll && !s.ch ? section('Log-likelihoods', pre(s.ll.map(function (x) { return x.toFixed(4); }).join('  '), 'short')) : null
    ];
  }
  function openDetail(pos) {
    var page = current.page;
    var s = page.samples[pos];
    if (!s) return;
    openPos = pos;
    if (!s.bad) state.open = sampleKey(page, s);
    if (!LIVE) {
      var other = current.other;
      showDetail(s, page.others ? page.others[pos] : null, page, other ? { metrics: other.metrics, filters: other.filters } : null, pos);
      return;
    }
    var want = pos + '|' + s.n;
    api('sample', { run: runKey(state.run), task: state.task, n: s.n, other: current.other ? current.other.id : '' }).then(function (d) {
      if (openPos + '|' + (current.page.samples[openPos] || {}).n !== want) return;
      showDetail(d.sample, d.other || null, d, d.other !== undefined ? { metrics: d.other_metrics, filters: d.other_filters } : null, pos);
    }).catch(function (err) { S.notice.hidden = false; S.notice.textContent = 'Could not read the sample: ' + err.message; });
  }
  function openByKey(key) {  // live: a sample that is not on the current page (a link from the comparison)
    openPos = -2;
    var d0 = key.split('\u0001');
    api('sample', { run: runKey(state.run), task: state.task, key: key, other: current.other ? current.other.id : '' }).then(function (d) {
      if (state.open !== key) return;
      showDetail(d.sample, d.other || null, d, d.other !== undefined ? { metrics: d.other_metrics, filters: d.other_filters } : null, -1);
    }).catch(function (err) {
      state.open = null; openPos = -1;
      S.notice.hidden = false; S.notice.textContent = 'No sample for doc ' + d0[0] + ': ' + err.message;
    });
  }
  function step(pos, delta) {
    var page = current.page, target = pos + delta;
    if (target >= 0 && target < page.samples.length) { openDetail(target); return; }
    var pages = page.complete ? Math.ceil(page.matched / PAGE_SIZE) : null;
    if (delta < 0 && state.page > 0) {
      state.page--; openPos = -2;
      refresh().then(function () { openDetail(current.page.samples.length - 1); });
    } else if (delta > 0 && (pages === null ? page.samples.length === PAGE_SIZE : state.page < pages - 1)) {
      state.page++; openPos = -2;
      refresh().then(function () { openDetail(0); });
    }
  }
  function showDetail(s, o, A, B, pos) {
    var page = current.page;
    var pages = page.complete ? Math.ceil(page.matched / PAGE_SIZE) : null;
    var first = pos <= 0 && state.page === 0;
    var last = pos < 0 || (pos >= page.samples.length - 1 && (pages === null ? page.samples.length < PAGE_SIZE : state.page >= pages - 1));
    var close = h('button', { class: 'btn', type: 'button', id: 'detail-close', title: 'Close (Esc)' }, 'Close');
    var prev = h('button', { class: 'btn', type: 'button', id: 'detail-prev', disabled: pos < 0 || first, title: 'Previous (\u2190)' }, '\u2190');
    var next = h('button', { class: 'btn', type: 'button', id: 'detail-next', disabled: last, title: 'Next (\u2192)' }, '\u2192');
    on(close, 'click', closeDetail);
    on(prev, 'click', function () { step(pos, -1); });
    on(next, 'click', function () { step(pos, 1); });
    var panel;
    if (s.bad) {
      panel = h('div', { class: 'drawer-panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'detail-title' },
        h('div', { class: 'drawer-head' }, h('h2', { id: 'detail-title' }, state.task + ' \u00b7 record ' + (s.n + 1)),
          h('span', { class: 'badge bad' }, 'corrupt'), prev, next, close),
        section('Problem', pre(s.bad, 'short', 'detail-bad')),
        section('Line as stored (start)', pre(s.raw, null, 'detail-raw-line')));
    } else {
      var filterName = A.filters[s.f] || '';
      panel = h('div', { class: 'drawer-panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'detail-title' },
        h('div', { class: 'drawer-head' },
          h('h2', { id: 'detail-title' }, state.task + ' \u00b7 doc ' + s.d + (A.filters.length > 1 || filterName !== 'none' ? ' \u00b7 ' + filterName : '')),
          correctBadge(s.c), prev, next, close),
        section('Metrics', metricChips(A, s), { id: 'detail-metrics' }),
        section('Prompt', pre(s.i, null, 'detail-input')),
        s.ch ? section('Choices', choicesList(s, s.ch), { id: 'detail-choices' }) : null,
        section('Target', pre(s.t, 'short', 'detail-target')));
      if (B) {
        var runA = RUNS[state.run], runB = RUNS[current.otherRun];
        var colA = h('div', { class: 'sbs-col', id: 'sbs-a' }, h('h3', null, runA.label, correctBadge(s.c)), responseBlock(A, s, 'detail-'), section('Metrics', metricChips(A, s)));
        var colB = h('div', { class: 'sbs-col', id: 'sbs-b' }, h('h3', null, runB.label, o ? correctBadge(o.c) : null));
        if (o) {
          append(colB, responseBlock(B, o, 'other-'));
          colB.appendChild(section('Metrics', metricChips(B, o)));
          if (o.i !== s.i) colB.appendChild(section('Prompt (differs)', pre(o.i, 'short', 'other-input')));
        } else {
          colB.appendChild(h('p', { class: 'empty' }, 'No sample for this document and filter in this run.'));
        }
        panel.appendChild(section('Side by side', h('div', { class: 'sbs', id: 'side-by-side' }, colA, colB)));
      } else {
        append(panel, responseBlock(A, s, 'detail-'));
      }
      if (s.x) {
        panel.appendChild(h('details', { class: 'raw section', id: 'detail-extra' }, h('summary', null, 'Other fields (document, token counts, media)'),
          pre(JSON.stringify(s.x, null, 2))));
      }
    }
    panel.appendChild(h('p', { class: 'muted' }, h('span', { class: 'kbd' }, 'Esc'), ' close \u00b7 ',
      h('span', { class: 'kbd' }, '\u2190'), ' ', h('span', { class: 'kbd' }, '\u2192'), ' previous / next'));
    openPos = pos;
    clear(drawer).appendChild(panel);
    drawer.hidden = false;
    document.body.classList.add('noscroll');
    close.focus();
    writeHash();
  }
  function closeDetail() {
    drawer.hidden = true;
    clear(drawer);
    document.body.classList.remove('noscroll');
    state.open = null;
    writeHash();
    var row = document.querySelector('#sample-rows tr[data-k="' + openPos + '"]');
    if (row) row.focus();
    openPos = -1;
  }
  on(drawer, 'click', function (e) { if (e.target === drawer) closeDetail(); });
  on(document, 'keydown', function (e) {
    if (drawer.hidden) return;
    if (e.key === 'Escape') { closeDetail(); e.preventDefault(); }
    else if (e.key === 'ArrowLeft') { var b = byId('detail-prev'); if (b && !b.disabled) b.click(); }
    else if (e.key === 'ArrowRight') { var n = byId('detail-next'); if (n && !n.disabled) n.click(); }
  });

  // ------------------------------------------------------------------ live updates (evallog view)
  function taskListItems() {
    if (!S.list) return;
    var items = {};
    Array.prototype.forEach.call(S.list.children, function (b) { items[b.getAttribute('data-task')] = b; });
    TASKS.forEach(function (t) {
      var n = 0;
      t.runs.forEach(function (r) { n = Math.max(n, r.n_total || 0); });
      var b = items[t.name];
      if (!b) {
        b = h('button', { class: 'task-item', type: 'button', 'data-task': t.name, title: t.name },
          h('span', { class: 'name' }, t.name), h('span', { class: 'n' }, ''));
        on(b, 'click', function () { selectTask(t.name); });
        S.list.appendChild(b);
      }
      b.lastChild.textContent = n ? fmtCompact(n) : '\u2013';
    });
  }
  function applyStatus(st) {
    var touched = false;
    (st.runs || []).forEach(function (lr) {
      var i = runIndex(lr.key);
      if (i < 0) return;
      var run = RUNS[i];
      run.live_tasks = lr.tasks;
      run.counts = run.counts || {};
      Object.keys(lr.tasks).forEach(function (t) {
        var n = lr.tasks[t].n;
        if (run.counts[t] !== n) touched = touched || (state.task === t && state.run === i);
        run.counts[t] = n;
        var tr = taskRun(t, i);
        if (tr) { tr.n_total = n; tr.n_embedded = n; }
      });
      var row = document.querySelector('#run-list tr[data-key="' + lr.key + '"]');
      if (row) {
        var n = runSamples(i);
        row.querySelector('.run-samples').textContent = n === null ? '\u2013' : fmtInt(n);
        var means = row.querySelector('.run-means');
        if (means) means.textContent = meansText(run);
      }
    });
    taskListItems();
    subtitle();
    if (touched && state.view === 'samples' && openPos === -1) refresh();
  }
  function applyMeta(m) {
    var keep = { run: runKey(state.run), other: state.other !== '' && state.other !== 'none' ? runKey(+state.other) : null,
      a: state.a !== '' ? runKey(+state.a) : null, b: state.b !== '' ? runKey(+state.b) : null };
    var tabsBefore = TABS.map(function (t) { return t[0]; }).join();
    m.live.api = LIVE.api;
    setMeta(m);
    LIVE = m.live;
    if (keep.run) state.run = Math.max(0, runIndex(keep.run));
    if (keep.other) { var o = runIndex(keep.other); state.other = o >= 0 ? String(o) : 'none'; }
    if (keep.a) state.a = String(Math.max(0, runIndex(keep.a)));
    if (keep.b) state.b = String(Math.max(0, runIndex(keep.b)));
    if (computeTabs().map(function (t) { return t[0]; }).join() !== tabsBefore) {
      buildShell();
      show(state.view);
      return;
    }
    subtitle();
    TABS = computeTabs();
    Object.keys(views).forEach(function (name) {
      if (name === 'samples' && state.view === 'samples') { taskListItems(); if (openPos === -1) refresh(); return; }
      if (name === 'compare' && state.view === 'compare') return;  // keep the chosen pair on screen
      redraw(name);
    });
  }
  function poll() {
    setTimeout(function () {
      api('status').then(function (st) {
        if (st.version !== LIVE.version) {
          return api('meta').then(function (m) { applyMeta(m); applyStatus(st); });
        }
        applyStatus(st);
      }).catch(function (err) {
        byId('report-subtitle').textContent = 'connection to evallog view lost: ' + err.message;
      }).then(poll);
    }, LIVE.poll_ms || 1000);
  }

  // ------------------------------------------------------------------ start
  function start() {
    var loading = byId('loading');
    if (loading) loading.parentNode.removeChild(loading);
    buildShell();
    show(state.view);
    document.documentElement.setAttribute('data-ready-ms', String(Math.round(performance.now())));
    document.documentElement.setAttribute('data-ready', '1');
  }
  readHash();
  if (LIVE) {
    api('meta').then(function (m) {
      m.live.api = LIVE.api;
      setMeta(m);
      LIVE = m.live;
      start();
      return api('status').then(applyStatus);
    }).then(poll, function (err) {
      var loading = byId('loading');
      if (loading) loading.textContent = 'Could not reach evallog view: ' + err.message;
    });
  } else {
    start();
  }
})();
