// pactum's console: the only script. Every page works without it; with it,
// the order queue refreshes itself when the log moves (/ui/stream says when,
// the rows come from the URL in the table's data-live attribute).
(function () {
  "use strict";
  var rows = document.querySelector("[data-live]");
  if (!rows || !window.EventSource) {
    return;
  }
  var source = new EventSource("/ui/stream");
  var busy = false;
  source.addEventListener("changed", function () {
    if (busy) {
      return;
    }
    busy = true;
    fetch(rows.getAttribute("data-live"), { credentials: "same-origin" })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) {
          var parsed = new DOMParser().parseFromString(
            "<table><tbody>" + html + "</tbody></table>",
            "text/html"
          );
          var body = parsed.querySelector("tbody");
          rows.replaceChildren.apply(rows, Array.prototype.slice.call(body.childNodes));
        }
      })
      .catch(function () {})
      .then(function () {
        busy = false;
      });
  });
})();
