"""The analytics page's script: draw a JSON view, ask the server for new ones, drill down.

Text from the data goes into the page with `textContent` only. With no endpoint (a written
file) filters stay as written and drill-downs come from the view's embedded `details`.
"""

from typing import Final

SCRIPT: Final = r"""
(function () {
  'use strict';
  var root = document.getElementById('analytics');
  var endpoint = root.getAttribute('data-endpoint');
  var view = JSON.parse(document.getElementById('analytics-view').textContent);
  var form = document.getElementById('filters');
  var opened = null;  // the drill-down on screen: {kind, name}
  var asked = {view: 0, detail: 0};  // per kind, only the latest answer is drawn

  function node(tag, text, cls) {
    var el = document.createElement(tag);
    if (text !== undefined && text !== null) el.textContent = text;
    if (cls) el.className = cls;
    return el;
  }
  function status(text) { document.getElementById('status').textContent = text; }

  function link(kind, text, target) {  // target: what it opens (a venue's id), else the text
    var a = node('a', text);
    a.href = '#';
    a.setAttribute('data-kind', kind);
    a.setAttribute('data-name', target || text);
    return a;
  }

  function table(box, t, empty) {
    box.replaceChildren();
    if (!t || !t.rows.length) {
      box.appendChild(node('div', empty || 'Nothing to show.', 'empty'));
      return;
    }
    var el = node('table'), head = node('tr'), body = node('tbody');
    t.columns.forEach(function (c) { head.appendChild(node('th', c)); });
    el.appendChild(node('thead')).appendChild(head);
    t.rows.forEach(function (row, i) {
      var tr = node('tr', null, t.flagged.indexOf(i) >= 0 ? 'low' : '');
      row.forEach(function (v, j) {
        var td = node('td'), kind = t.links[String(j)];
        var target = (t.targets && t.targets[String(j)] || [])[i];
        if (kind && v) td.appendChild(link(kind, v, target)); else td.textContent = v;
        if (v === 'low confidence') td.className = 'flag';
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    el.appendChild(body);
    box.appendChild(el);
  }

  function plot(box, figure, note, onClick) {
    if (box.data) Plotly.purge(box);
    box.replaceChildren();
    if (!figure) { box.appendChild(node('div', note, 'empty')); return; }
    Plotly.newPlot(box, figure.data, figure.layout, {responsive: true, displaylogo: false});
    if (onClick) box.on('plotly_click', function (ev) {
      var point = ev.points && ev.points[0];
      if (point && point.customdata) onClick(String(point.customdata));
    });
  }

  var clicks = {
    artists: function (name) { drill('artist', name); },
    ranking: function (name) { drill('venue', name); },
    predictions: function (name) { drill('venue', name); }
  };

  function draw(v) {
    view = v;
    var problem = document.getElementById('problem');
    problem.replaceChildren();
    if (v.problem) problem.appendChild(node('div', v.problem, 'note bad'));
    document.getElementById('describe').textContent = v.describe;
    var tiles = document.getElementById('tiles');
    tiles.replaceChildren();
    v.tiles.forEach(function (t) {
      var tile = node('div', null, 'tile ' + (t.tone || ''));
      tile.setAttribute('data-tile', t.key);
      tile.appendChild(node('div', t.value, 'v'));
      tile.appendChild(node('div', t.label, 'l'));
      tiles.appendChild(tile);
    });
    Object.keys(v.panels).forEach(function (key) {
      var p = v.panels[key];
      plot(document.getElementById('panel-' + key), p.figure, p.note, clicks[key]);
    });
    var notes = v.notes || {};
    table(document.getElementById('table-ranking'), v.tables.ranking, notes.ranking);
    table(document.getElementById('table-predictions'), v.tables.predictions, notes.predictions);
    table(document.getElementById('table-artists'), v.tables.artists, notes.artists);
  }

  function drawDetail(d) {
    var box = document.getElementById('detail');
    box.replaceChildren();
    if (!d) return;
    var card = box.appendChild(node('div', null, 'card'));
    var heading = (d.kind === 'venue' ? 'Venue: ' : 'Artist: ') + d.name;
    var title = card.appendChild(node('h2', heading));
    title.setAttribute('data-detail', d.kind);
    var close = card.appendChild(node('button', 'Close'));
    close.type = 'button';
    close.addEventListener('click', function () { opened = null; drawDetail(null); });
    card.appendChild(node('p', d.summary, 'summary'));
    var chart = card.appendChild(node('div'));
    chart.id = 'detail-chart';
    plot(chart, d.figure, 'No completed concerts in these filters.');
    var rows = card.appendChild(node('div'));
    rows.id = 'detail-table';
    table(rows, d.table, 'No concerts in these filters.');
    box.scrollIntoView({behavior: 'smooth', block: 'start'});
  }

  function filterParams() {
    var params = new URLSearchParams();
    if (!form) return params;
    new FormData(form).forEach(function (value, key) { if (value) params.append(key, value); });
    return params;
  }

  function ask(params, slot) {
    var mine = ++asked[slot];
    status('Loading…');
    return fetch(endpoint + '?' + params.toString(),
                 {credentials: 'same-origin', headers: {Accept: 'application/json'}})
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.detail || ('the server answered ' + r.status));
          return body;
        });
      })
      .then(function (body) {
        if (mine !== asked[slot]) throw null;  // a later request is on its way
        status('');
        return body;
      })
      .catch(function (err) {
        if (err === null) throw null;
        status(String(err.message || err));
        throw null;
      });
  }

  function drill(kind, name) {
    opened = {kind: kind, name: name};
    if (!endpoint) {
      var found = view.details[kind + ':' + name.toLowerCase()];
      if (found) { drawDetail(found); return; }
      status('This file holds the details of the venues and artists it lists; open /analytics ' +
             'in the chat UI (or write the page with --artist) for ' + name + '.');
      return;
    }
    var params = filterParams();
    params.set('detail', kind);
    params.set('name', name);
    ask(params, 'detail').then(drawDetail, function () {});
  }

  function apply() {
    var params = filterParams();
    ask(params, 'view').then(function (v) {
      draw(v);
      history.replaceState(null, '', '?' + params.toString());
      if (opened) drill(opened.kind, opened.name);
    }, function () {});
  }

  if (form && endpoint) {
    form.addEventListener('submit', function (ev) { ev.preventDefault(); apply(); });
    form.addEventListener('change', function () { apply(); });
    document.getElementById('reset').addEventListener('click', function () {
      form.querySelectorAll('input, select').forEach(function (el) { el.value = ''; });
      apply();
    });
  }
  document.addEventListener('click', function (ev) {
    var a = ev.target.closest && ev.target.closest('a[data-kind]');
    if (!a) return;
    ev.preventDefault();
    drill(a.getAttribute('data-kind'), a.getAttribute('data-name'));
  });
  draw(view);
})();
"""
