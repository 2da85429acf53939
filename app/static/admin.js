// OpenClaw admin: confirm dangerous buttons; follow console replies until processing finishes.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  function poll(section, tries) {
    var url = section.getAttribute("data-poll");
    if (!url || tries > 120) {
      return;
    }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        var finished = response.headers.get("X-Finished") === "1";
        return response.text().then(function (html) { return { html: html, finished: finished }; });
      })
      .then(function (result) {
        section.innerHTML = result.html;
        if (!result.finished) {
          window.setTimeout(function () { poll(section, tries + 1); }, 1000);
        }
      })
      .catch(function () { window.setTimeout(function () { poll(section, tries + 1); }, 3000); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var section = document.getElementById("conversation");
    if (section && section.getAttribute("data-poll")) {
      window.setTimeout(function () { poll(section, 0); }, 500);
    }
  });
})();
