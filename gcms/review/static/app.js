// The review workstation's charts: Plotly figures the server put in JSON script blocks.
// No inline script (the Content-Security-Policy allows scripts from this site only).
"use strict";
(function () {
  const started = performance.now();
  const config = {responsive: true, displaylogo: false, scrollZoom: true};

  function figureOf(element) {
    const data = document.getElementById(element.dataset.figure);
    return data ? JSON.parse(data.textContent) : null;
  }

  function ionsField() { return document.getElementById("mz"); }

  async function showIons(chart, ions) {
    const url = "/api/xic?case=" + encodeURIComponent(chart.dataset.case) +
      "&result=" + encodeURIComponent(chart.dataset.result) +
      "&mz=" + encodeURIComponent(ions.join(","));
    const answer = await fetch(url, {credentials: "same-origin"});
    if (!answer.ok) { return; }
    const body = await answer.json();
    const old = [];
    chart.data.forEach(function (trace, i) { if (trace.meta && trace.meta.mz) { old.push(i); } });
    if (old.length) { Plotly.deleteTraces(chart, old); }
    Plotly.addTraces(chart, body.traces, body.traces.map(function (_, i) { return 1 + i; }));
  }

  document.addEventListener("DOMContentLoaded", function () {
    const drawn = [];
    document.querySelectorAll("[data-figure]").forEach(function (element) {
      const figure = figureOf(element);
      if (figure) { drawn.push(Plotly.newPlot(element, figure.data, figure.layout, config)); }
    });
    const chart = document.getElementById("chromatogram");
    const form = document.getElementById("ions");
    if (chart && form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        const ions = ionsField().value.split(/[,\s]+/).filter(Boolean).map(Number);
        showIons(chart, ions);
      });
    }
    if (chart) {
      // click a component's mark on the chromatogram: open that component
      chart.on("plotly_click", function (event) {
        const point = event.points[0];
        if (point.customdata === undefined) { return; }
        const url = new URL(window.location.href);
        url.searchParams.set("result", chart.dataset.result);
        url.searchParams.set("component", point.customdata);
        window.location.assign(url.toString());
      });
    }
    const spectrum = document.getElementById("spectrum");
    if (spectrum && chart) {
      // click an ion of the spectrum: add its extracted-ion chromatogram
      spectrum.on("plotly_click", function (event) {
        const mz = Math.round(event.points[0].x);
        const field = ionsField();
        const ions = field.value.split(/[,\s]+/).filter(Boolean).map(Number);
        if (ions.indexOf(mz) < 0) { ions.push(mz); }
        field.value = ions.join(", ");
        showIons(chart, ions);
      });
    }
    Promise.all(drawn).then(function () {
      window.gcmsChartsDrawnMs = performance.now() - started;
      document.body.dataset.charts = "drawn";
    });
  });
})();
