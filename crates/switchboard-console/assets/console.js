// Switchboard console: the browser's time zone for the server's
// rendering, and live updates (Server-Sent Events -> htmx refresh).
(function () {
  "use strict";
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var have = document.cookie.split("; ").some(function (c) {
      return c === "sb_tz=" + encodeURIComponent(tz);
    });
    if (tz && !have) {
      document.cookie = "sb_tz=" + encodeURIComponent(tz) + "; path=/console; SameSite=Strict";
      if (!sessionStorage.getItem("sb_tz_reloaded") && tz !== "UTC") {
        sessionStorage.setItem("sb_tz_reloaded", "1");
        location.reload();
        return;
      }
    }
  } catch (e) { /* no time zone: times stay in UTC */ }

  var live = document.getElementById("live");
  if (!live || !window.EventSource) { return; }
  var since = live.getAttribute("data-since") || "0";
  var source = new EventSource("/console/events?since=" + encodeURIComponent(since));
  var status = document.getElementById("live-status");
  source.onopen = function () { if (status) { status.textContent = "Live"; } };
  source.onerror = function () { if (status) { status.textContent = "Reconnecting…"; } };
  source.addEventListener("change", function (e) {
    var d;
    try { d = JSON.parse(e.data); } catch (err) { return; }
    var want = live.getAttribute("data-live");
    var customer = live.getAttribute("data-customer");
    var hit = want === "inbox" ||
      (d.entity === "conversation" && want === "conversation:" + d.id) ||
      (d.entity === "customer" && customer === String(d.id)) ||
      // A customer's page also lists its conversations.
      (d.entity === "conversation" && want.indexOf("customer:") === 0 &&
        live.querySelector('[data-conversation="' + Number(d.id) + '"]') !== null);
    if (hit && window.htmx) { window.htmx.trigger(live, "refresh"); }
  });
})();
