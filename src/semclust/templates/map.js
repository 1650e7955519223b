/* semclustMap(element, payload, hooks): the interactive map of a run, drawn with plotly.js (WebGL).
 * payload: {x, y, c, id, clusters: [{cluster, title, colour, x, y}]} (see semclust/stages/interactive_map.py).
 * hooks (all optional): onHover(id, cluster), onClick(id, cluster), onSelect(ids), onCluster(cluster).
 * Titles come from the data and are shown through plotly's text rendering, which escapes HTML. */
function semclustMap(element, payload, hooks) {
  hooks = hooks || {};
  var byCluster = {};
  for (var i = 0; i < payload.c.length; i++) {
    var c = payload.c[i];
    (byCluster[c] = byCluster[c] || []).push(i);
  }
  var n = payload.c.length;
  var size = n > 50000 ? 2 : n > 10000 ? 3 : n > 1000 ? 4 : 6;
  var traces = [], annotations = [];
  var ordered = payload.clusters.slice().sort(function (a, b) { return (a.cluster === -1 ? -1 : 0) - (b.cluster === -1 ? -1 : 0); });
  ordered.forEach(function (info) {
    var rows = byCluster[info.cluster] || [];
    var x = new Float32Array(rows.length), y = new Float32Array(rows.length), ids = new Array(rows.length);
    for (var k = 0; k < rows.length; k++) { x[k] = payload.x[rows[k]]; y[k] = payload.y[rows[k]]; ids[k] = payload.id[rows[k]]; }
    traces.push({
      type: 'scattergl', mode: 'markers', x: x, y: y, customdata: ids, name: plainText(info.title),
      marker: {color: info.colour, size: size, opacity: info.cluster === -1 ? 0.45 : 0.8},
      hovertemplate: '%{customdata}<extra>' + escapeHtml(info.title) + '</extra>',
      meta: info.cluster
    });
    if (info.cluster !== -1 && info.x !== null) {
      annotations.push({x: info.x, y: info.y, text: escapeHtml(info.title), showarrow: true,
        arrowhead: 0, arrowwidth: 1, arrowcolor: '#333', ax: 0, ay: -24,
        font: {size: 12, color: '#111'}, bgcolor: 'rgba(255,255,255,0.75)', captureevents: true,
        clusterNumber: info.cluster});
    }
  });
  var layout = {
    margin: {l: 10, r: 10, t: 10, b: 10}, dragmode: 'pan', hovermode: 'closest', showlegend: false,
    xaxis: {visible: false}, yaxis: {visible: false, scaleanchor: 'x'}, annotations: annotations,
    plot_bgcolor: '#fff', paper_bgcolor: '#fff'
  };
  var config = {responsive: true, scrollZoom: true, displaylogo: false,
    modeBarButtonsToRemove: ['toImage', 'sendDataToCloud']};
  return Plotly.newPlot(element, traces, layout, config).then(function (gd) {
    var point = function (ev) { var p = ev.points[0]; return [p.customdata, p.data.meta]; };
    gd.on('plotly_hover', function (ev) { if (hooks.onHover) { var a = point(ev); hooks.onHover(a[0], a[1]); } });
    gd.on('plotly_click', function (ev) { if (hooks.onClick) { var a = point(ev); hooks.onClick(a[0], a[1]); } });
    gd.on('plotly_selected', function (ev) {
      if (hooks.onSelect) { hooks.onSelect(ev && ev.points ? ev.points.map(function (p) { return p.customdata; }) : []); }
    });
    gd.on('plotly_clickannotation', function (ev) {
      if (hooks.onCluster) { hooks.onCluster(ev.annotation.clusterNumber); }
    });
    requestAnimationFrame(function () {  // after the first frame with the points is painted
      element.setAttribute('data-ready-ms', String(Math.round(performance.now())));
      element.setAttribute('data-ready', '1');
    });
    return gd;
  });
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, function (ch) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[ch];
  });
}

function plainText(text) { return escapeHtml(text); }
