// The dashboard works without this script (a GET form, charts drawn on the server). It only
// applies a changed filter at once, and on a first visit counts days in the browser's zone.
"use strict";

(function () {
  const form = document.getElementById("dashboard-filter");
  if (!form) return;
  const params = new URLSearchParams(window.location.search);
  if (!params.has("tz")) {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && zone !== "UTC") {
      params.set("tz", zone);
      window.location.replace(`/dashboard?${params.toString()}`);
      return;
    }
  }
  for (const field of form.querySelectorAll("select, input[type=date]")) {
    field.addEventListener("change", () => form.requestSubmit());
  }
})();
