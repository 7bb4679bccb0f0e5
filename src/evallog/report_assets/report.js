/* evallog report: renders the JSON data blocks of this page. No network, no
   innerHTML: every string from the results goes into the page as text. */
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
  var META = JSON.parse(byId('evallog-meta').textContent);
  var RUNS = META.runs || [];
  var TASKS = META.tasks || [];
  var COMPS = META.comparisons || [];
  var TASK_BY_NAME = {};
  TASKS.forEach(function (t) { TASK_BY_NAME[t.name] = t; });
  var PAGE_SIZE = 50;

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
    agree: 'all', sort: 'doc', page: 0, open: null, cmp: 0
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
    } else if (state.view === 'compare' && state.cmp) {
      p.set('cmp', state.cmp);
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
  var hasSamples = TASKS.some(function (t) { return t.runs.some(function (r) { return r.block; }); });
  var TABS = [['overview', 'Results', RUNS.length]];
  if (META.leaderboard) TABS.push(['leaderboard', 'Leaderboard', null]);
  if (COMPS.length) TABS.push(['compare', 'Compare', COMPS.length]);
  if (TASKS.length) TABS.push(['samples', 'Samples', TASKS.length]);

  function buildShell() {
    clear(app);
    var sub = [plural(RUNS.length, 'run'), plural(TASKS.length, 'task')];
    var total = 0, embedded = 0;
    TASKS.forEach(function (t) { t.runs.forEach(function (r) { total += r.n_total; embedded += r.n_embedded; }); });
    if (total) sub.push(fmtInt(total) + ' samples' + (embedded < total ? ' (' + fmtInt(embedded) + ' embedded)' : ''));
    sub.push('generated ' + META.generated + ' by evallog ' + META.version);
    byId('report-subtitle').textContent = sub.join(' \u00b7 ');
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
  function show(name) {
    if (!views[name]) name = 'overview';
    state.view = name;
    TABS.forEach(function (t) {
      byId('tab-' + t[0]).setAttribute('aria-selected', t[0] === name ? 'true' : 'false');
      views[t[0]].hidden = t[0] !== name;
    });
    if (!rendered[name]) {
      rendered[name] = true;
      ({ overview: renderOverview, leaderboard: renderLeaderboard, compare: renderCompare, samples: renderSamples })[name]();
    }
    writeHash();
  }

  // ------------------------------------------------------------------ overview
  function renderOverview() {
    var view = views.overview;
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
    RUNS.forEach(function (run, i) {
      var kv = h('dl', { class: 'kv' });
      (run.config || []).forEach(function (pair) { kv.appendChild(h('dt', null, pair[0])); kv.appendChild(h('dd', null, pair[1])); });
      if (run.path) { kv.appendChild(h('dt', null, 'path')); kv.appendChild(h('dd', null, run.path)); }
      cards.appendChild(h('div', { class: 'card', id: 'run-card-' + i },
        h('h3', null, run.model || 'run ' + (i + 1), run.in_progress ? h('span', { class: 'badge accent' }, 'in progress') : null),
        h('div', { class: 'sub' }, [run.flavor, run.run_id ? 'run id ' + run.run_id : ''].filter(Boolean).join(' \u00b7 ') + ' \u00b7 ' + plural(run.tasks.length, 'task')),
        kv));
    });
    view.appendChild(cards);
    RUNS.forEach(function (run, i) {
      var panel = h('div', { class: 'panel', id: 'run-results-' + i },
        h('div', { class: 'panel-head' }, h('h2', null, RUNS.length > 1 ? 'Results \u2014 ' + run.label : 'Results'),
          h('span', { class: 'badge' }, run.flavor || '')));
      if (run.results_table) panel.appendChild(resultsTable(run.results_table, 'results-table-' + i, 'task'));
      else panel.appendChild(h('p', { class: 'empty' }, 'No results in this run.'));
      if (run.groups_table) {
        panel.appendChild(h('h3', { class: 'groups-title' }, 'Groups'));
        panel.appendChild(resultsTable(run.groups_table, 'groups-table-' + i, 'group'));
      }
      view.appendChild(panel);
    });
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
  function renderCompare() {
    var view = views.compare;
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
      var c = COMPS[state.cmp] || COMPS[0];
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
    draw();
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
      h('option', { value: 'doc' }, 'Doc id \u2191'), h('option', { value: 'doc-desc' }, 'Doc id \u2193'),
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
      clear(S.filter);
      S.filter.appendChild(h('option', { value: '' }, 'All filters'));
      current.block.filters.forEach(function (f) { S.filter.appendChild(h('option', { value: f }, f)); });
      if (current.block.filters.indexOf(state.filter) < 0) state.filter = '';
      S.filter.value = state.filter;
      S.filterField.hidden = current.block.filters.length < 2;
      refresh();
      views.samples.setAttribute('data-load-ms', (performance.now() - loadStart).toFixed(1));
      if (state.open !== null) {
        var idx = findOpen(state.open);
        if (idx >= 0) openDetail(idx); else state.open = null;
      }
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
  function filterTallies(B, rows, metric) {
    var by = {}, order = [];
    rows.forEach(function (k) {
      var s = B.samples[k], t = by[s.f];
      if (!t) { t = by[s.f] = { n: 0, scored: 0, correct: 0 }; order.push(s.f); }
      t.n++;
      if (s.c === 0 || s.c === 1) { t.scored++; t.correct += s.c; }
    });
    return order.map(function (f) {
      var t = by[f], bits = order.length > 1 ? [plural(t.n, 'sample')] : [];
      if (t.scored) bits.push(fmtInt(t.correct) + ' correct (' + (100 * t.correct / t.scored).toFixed(1) + '% by ' + metric + ')');
      return (order.length > 1 ? (B.filters[f] || String(f)) + ': ' : '') + bits.join(', ');
    }).filter(Boolean).join('; ');
  }
  function refresh() {
    var B = current.block;
    if (!B) return;
    var t0 = performance.now();
    var rows = computeRows();
    var pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    if (state.page >= pages) state.page = pages - 1;
    if (state.page < 0) state.page = 0;
    var start = state.page * PAGE_SIZE;
    var slice = rows.slice(start, start + PAGE_SIZE);
    var tr = taskRun(state.task, state.run);
    var metric = B.metrics[0] || 'metric';
    var parts = [rows.length === B.samples.length ? plural(rows.length, 'sample') : fmtInt(rows.length) + ' of ' + plural(B.samples.length, 'sample') + ' match'];
    var tallies = rows.length <= 200000 ? filterTallies(B, rows, metric) : '';
    if (tallies) parts.push(tallies);
    if (tr && tr.n_total > B.samples.length) parts.push(fmtInt(tr.n_total) + ' in the run');
    S.summary.textContent = parts.join(' \u00b7 ');

    var hasOther = !!current.other;
    var otherIdx = hasOther ? blockIndex(current.other) : null;
    var showFilter = B.filters.length > 1;
    var cols = h('colgroup', null, h('col', { class: 'c-id' }), showFilter ? h('col', { class: 'c-filter' }) : null,
      h('col', { class: 'c-ok' }), h('col', { class: 'c-metric' }), h('col', { class: 'c-input' }),
      h('col', { class: 'c-target' }), h('col', { class: 'c-resp' }), hasOther ? h('col', { class: 'c-other' }) : null);
    var head = h('thead', null, h('tr', null,
      h('th', { class: 'num' }, 'Doc'), showFilter ? h('th', null, 'Filter') : null, h('th', null, 'Result'),
      h('th', { class: 'num' }, metric), h('th', null, 'Prompt'), h('th', null, 'Target'), h('th', null, 'Response'),
      hasOther ? h('th', { title: RUNS[current.otherRun].label }, 'Other') : null));
    var body = h('tbody', { id: 'sample-rows' });
    slice.forEach(function (k) {
      var s = B.samples[k];
      var o = otherIdx ? otherIdx.get(sampleKey(B, s)) : null;
      var row = h('tr', { tabindex: '0', 'data-k': String(k), 'data-doc': String(s.d), 'data-filter': B.filters[s.f] || '' },
        h('td', { class: 'num mono' }, String(s.d)),
        showFilter ? h('td', { class: 'clip dim' }, B.filters[s.f] || '') : null,
        h('td', null, correctBadge(s.c)),
        h('td', { class: 'num' }, fmtNum(s.v[0])),
        h('td', { class: 'clip tail prompt', title: s.i }, h('span', null, promptPreview(B, s.i))),
        h('td', { class: 'clip' }, oneLine(s.ch && s.ti !== undefined ? s.ch[s.ti] : s.t, 120)),
        h('td', { class: 'clip' }, oneLine(s.r, 200)),
        hasOther ? h('td', null, o ? correctBadge(o.c) : h('span', { class: 'badge' }, '\u2013')) : null);
      on(row, 'click', function () { openDetail(k); });
      on(row, 'keydown', function (e) { if (e.key === 'Enter') openDetail(k); });
      body.appendChild(row);
    });
    clear(S.body);
    if (!slice.length) S.body.appendChild(h('p', { class: 'empty', id: 'samples-none' }, 'No sample matches.'));
    else S.body.appendChild(h('div', { class: 'table-wrap' }, h('table', { class: 'data samples', id: 'samples-table' }, cols, head, body)));

    clear(S.pager);
    if (rows.length > PAGE_SIZE) {
      var prev = h('button', { class: 'btn', type: 'button', id: 'page-prev', disabled: state.page === 0 }, '\u2190 Prev');
      var next = h('button', { class: 'btn', type: 'button', id: 'page-next', disabled: state.page >= pages - 1 }, 'Next \u2192');
      on(prev, 'click', function () { state.page--; refresh(); });
      on(next, 'click', function () { state.page++; refresh(); });
      S.pager.appendChild(h('span', { id: 'page-info' }, fmtInt(start + 1) + '\u2013' + fmtInt(start + slice.length) + ' of ' + fmtInt(rows.length) +
        ' \u00b7 page ' + fmtInt(state.page + 1) + ' / ' + fmtInt(pages)));
      S.pager.appendChild(prev);
      S.pager.appendChild(next);
    }
    views.samples.setAttribute('data-render-ms', (performance.now() - t0).toFixed(1));
    views.samples.setAttribute('data-samples-ready', B.id);
    writeHash();
  }

  // ------------------------------------------------------------------ detail drawer
  var drawer = byId('detail');
  var openK = -1;
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
  function openDetail(k) {
    var B = current.block;
    var s = B.samples[k];
    openK = k;
    state.open = sampleKey(B, s);
    var o = current.other ? blockIndex(current.other).get(sampleKey(B, s)) : null;
    var rows = current.rows;
    var pos = rows.indexOf(k);
    var close = h('button', { class: 'btn', type: 'button', id: 'detail-close', title: 'Close (Esc)' }, 'Close');
    var prev = h('button', { class: 'btn', type: 'button', id: 'detail-prev', disabled: pos <= 0, title: 'Previous (\u2190)' }, '\u2190');
    var next = h('button', { class: 'btn', type: 'button', id: 'detail-next', disabled: pos < 0 || pos >= rows.length - 1, title: 'Next (\u2192)' }, '\u2192');
    on(close, 'click', closeDetail);
    on(prev, 'click', function () { if (pos > 0) openDetail(rows[pos - 1]); });
    on(next, 'click', function () { if (pos >= 0 && pos < rows.length - 1) openDetail(rows[pos + 1]); });
    var filterName = B.filters[s.f] || '';
    var panel = h('div', { class: 'drawer-panel', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'detail-title' },
      h('div', { class: 'drawer-head' },
        h('h2', { id: 'detail-title' }, state.task + ' \u00b7 doc ' + s.d + (B.filters.length > 1 || filterName !== 'none' ? ' \u00b7 ' + filterName : '')),
        correctBadge(s.c), prev, next, close),
      section('Metrics', metricChips(B, s), { id: 'detail-metrics' }),
      section('Prompt', pre(s.i, null, 'detail-input')),
      s.ch ? section('Choices', choicesList(s, s.ch), { id: 'detail-choices' }) : null,
      section('Target', pre(s.t, 'short', 'detail-target')));
    if (current.other) {
      var runA = RUNS[state.run], runB = RUNS[current.otherRun];
      var colA = h('div', { class: 'sbs-col', id: 'sbs-a' }, h('h3', null, runA.label, correctBadge(s.c)), responseBlock(B, s, 'detail-'), section('Metrics', metricChips(B, s)));
      var colB = h('div', { class: 'sbs-col', id: 'sbs-b' }, h('h3', null, runB.label, o ? correctBadge(o.c) : null));
      if (o) {
        append(colB, responseBlock(current.other, o, 'other-'));
        colB.appendChild(section('Metrics', metricChips(current.other, o)));
        if (o.i !== s.i) colB.appendChild(section('Prompt (differs)', pre(o.i, 'short', 'other-input')));
      } else {
        colB.appendChild(h('p', { class: 'empty' }, 'No sample for this document and filter in this run.'));
      }
      panel.appendChild(section('Side by side', h('div', { class: 'sbs', id: 'side-by-side' }, colA, colB)));
    } else {
      append(panel, responseBlock(B, s, 'detail-'));
    }
    if (s.x) {
      panel.appendChild(h('details', { class: 'raw section', id: 'detail-extra' }, h('summary', null, 'Other fields (document, token counts, media)'),
        pre(JSON.stringify(s.x, null, 2))));
    }
    panel.appendChild(h('p', { class: 'muted' }, h('span', { class: 'kbd' }, 'Esc'), ' close \u00b7 ',
      h('span', { class: 'kbd' }, '\u2190'), ' ', h('span', { class: 'kbd' }, '\u2192'), ' previous / next'));
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
    var row = document.querySelector('#sample-rows tr[data-k="' + openK + '"]');
    if (row) row.focus();
    openK = -1;
  }
  on(drawer, 'click', function (e) { if (e.target === drawer) closeDetail(); });
  on(document, 'keydown', function (e) {
    if (drawer.hidden) return;
    if (e.key === 'Escape') { closeDetail(); e.preventDefault(); }
    else if (e.key === 'ArrowLeft') { var b = byId('detail-prev'); if (b && !b.disabled) b.click(); }
    else if (e.key === 'ArrowRight') { var n = byId('detail-next'); if (n && !n.disabled) n.click(); }
  });

  // ------------------------------------------------------------------ start
  readHash();
  var loading = byId('loading');
  if (loading) loading.parentNode.removeChild(loading);
  buildShell();
  show(state.view);
  document.documentElement.setAttribute('data-ready-ms', String(Math.round(performance.now())));
  document.documentElement.setAttribute('data-ready', '1');
})();
