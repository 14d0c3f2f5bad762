/**
 * dashboard.js, served from the dashboard's own route: it draws the charts from the page's JSON
 * element with uPlot and refreshes a long action's progress. A file of its own (no inline
 * script), shipped as a string so that `tsc` puts it in `dist/` with the rest.
 */
export const DASHBOARD_SCRIPT: string = String.raw`(function () {
  'use strict';
  var COLORS = { enqueued: '#2563eb', completed: '#16a34a', ready: '#2563eb', leased: '#d97706', failed: '#dc2626' };

  function series(label) {
    return { label: label, stroke: COLORS[label], width: 1.5, points: { show: false } };
  }

  function drawCharts() {
    var source = document.getElementById('dashboard-charts');
    if (!source || typeof uPlot === 'undefined') return;
    var data = JSON.parse(source.textContent || '[]');
    var charts = document.querySelectorAll('[data-chart]');
    for (var i = 0; i < charts.length; i++) {
      var element = charts[i];
      var queue = data[Number(element.getAttribute('data-index'))];
      if (!queue || queue.minutes.length === 0) continue;
      var kind = element.getAttribute('data-chart');
      var names = kind === 'throughput' ? ['enqueued', 'completed'] : ['ready', 'leased', 'failed'];
      var columns = [queue.minutes].concat(names.map(function (name) { return queue[name]; }));
      var options = {
        title: kind === 'throughput' ? 'per minute: enqueued / completed' : 'depth: ready / leased / failed',
        width: Math.max(240, element.clientWidth || 360),
        height: 150,
        series: [{}].concat(names.map(series)),
        axes: [{}, { size: 48 }],
        legend: { live: false },
        cursor: { points: { show: false } }
      };
      new uPlot(options, columns, element);
      element.setAttribute('data-drawn', 'yes');
    }
  }

  function setText(box, testid, text) {
    var element = box.querySelector('[data-testid="' + testid + '"]');
    if (element) element.textContent = text;
  }

  function pollProgress() {
    var box = document.querySelector('[data-progress-url]');
    if (!box || box.getAttribute('data-finished') === 'yes') return;
    var url = box.getAttribute('data-progress-url');
    function tick() {
      fetch(url, { credentials: 'same-origin', headers: { accept: 'application/json' } })
        .then(function (response) { return response.json(); })
        .then(function (state) {
          if (state.progress) {
            setText(box, 'progress-done', state.progress.done.toLocaleString('en-US'));
            setText(box, 'progress-total', state.progress.total.toLocaleString('en-US'));
            setText(box, 'progress-state', state.progress.error ? 'failed: ' + state.progress.error : state.progress.finished ? 'finished' : 'running');
            var bar = box.querySelector('progress');
            if (bar && state.progress.total > 0) bar.value = Math.min(100, Math.round((state.progress.done / state.progress.total) * 100));
          }
          setText(box, 'progress-remaining', state.remaining.toLocaleString('en-US'));
          if (!state.progress || state.progress.finished) box.setAttribute('data-finished', 'yes');
          else setTimeout(tick, 1000);
        })
        .catch(function () { setTimeout(tick, 3000); });
    }
    setTimeout(tick, 500);
  }

  drawCharts();
  pollProgress();
})();
`;
