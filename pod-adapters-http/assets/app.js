// Pizza on Demand: live orders. The page works without this script; with
// it, the orders follow /app/events (Server-Sent Events) without a reload.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var orders = document.getElementById("orders");

  function localTimes(root) {
    var times = root.querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var d = new Date(times[i].getAttribute("datetime"));
      if (!isNaN(d)) {
        times[i].textContent = d.toLocaleString([], {
          month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
        });
        times[i].title = d.toString();
      }
    }
  }

  // Countdowns: the server says how much time was left when it rendered.
  var deadlines = [];
  function startCountdowns(root) {
    deadlines = [];
    var spans = root.querySelectorAll(".countdown[data-left-ms]");
    for (var i = 0; i < spans.length; i++) {
      var left = parseInt(spans[i].getAttribute("data-left-ms"), 10);
      if (!isNaN(left)) deadlines.push({ el: spans[i], at: Date.now() + left });
    }
    tick();
  }
  function tick() {
    for (var i = 0; i < deadlines.length; i++) {
      var s = Math.max(0, Math.ceil((deadlines[i].at - Date.now()) / 1000));
      var m = Math.floor(s / 60);
      var r = s % 60;
      deadlines[i].el.textContent = s === 0 ? (deadlines[i].el.getAttribute("data-expired-text") || "expired") :
        (m > 0 ? m + " min " + (r < 10 ? "0" : "") + r + " s" : r + " s");
    }
  }
  setInterval(tick, 1000);

  localTimes(document);
  if (!orders) return;
  startCountdowns(orders);
  if (!live || !window.EventSource) return;

  function setLive(on) {
    live.hidden = false;
    live.classList.toggle("on", on);
    live.querySelector(".live-text").textContent = on
      ? (live.getAttribute("data-live-text") || "Live")
      : (live.getAttribute("data-reconnecting-text") || "Reconnecting…");
  }

  var source = new EventSource(live.getAttribute("data-events"));
  source.addEventListener("open", function () { setLive(true); });
  source.addEventListener("error", function () {
    if (source.readyState === EventSource.CLOSED) {
      window.location.reload();
    } else {
      setLive(false);
    }
  });
  source.addEventListener("orders", function (e) {
    setLive(true);
    var before = {};
    var old = orders.querySelectorAll("[data-order]");
    for (var i = 0; i < old.length; i++) before[old[i].getAttribute("data-order") + old[i].getAttribute("data-state")] = true;
    orders.innerHTML = e.data;
    var now = orders.querySelectorAll("[data-order]");
    for (var j = 0; j < now.length; j++) {
      if (!before[now[j].getAttribute("data-order") + now[j].getAttribute("data-state")]) now[j].classList.add("fresh");
    }
    localTimes(orders);
    startCountdowns(orders);
  });
  source.addEventListener("signed-out", function () {
    source.close();
    window.location.reload();
  });
})();
