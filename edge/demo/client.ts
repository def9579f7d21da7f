/**
 * The demo page's script, as the browser runs it (plain JS in a string: the Worker serves it inline,
 * and the edge's TypeScript has no DOM types). What it does, the way a real app would:
 *
 *  1. a key: in dev mode an ephemeral key minted with the dev API key (POST /v1/realtime/client_secrets),
 *     otherwise the ek_… key the user pastes (minted by their server);
 *  2. getUserMedia, an RTCPeerConnection with the microphone track and the `oai-events` data channel,
 *     POST /v1/realtime/calls with the SDP offer, the answer applied; `session.update` on channel open;
 *  3. the route from the x-voice-edge-* headers, getStats every second (RTT, jitter, loss, packets),
 *     Web Audio level meters for the microphone and the remote audio, the events as a log;
 *  4. hang up: POST /v1/realtime/calls/{id}/hangup with the same key.
 *
 * Tests wait on: #state[data-state], #cluster, #region, #ingress, #attempts[data-value], #packets-in[data-count],
 * #events-in[data-count], #mic-meter[data-peak], #out-meter[data-peak].
 * No template literals below: the whole script is itself one.
 */
export const DEMO_JS = String.raw`
"use strict";
(function () {
  var byId = function (id) { return document.getElementById(id); };
  var cfg = JSON.parse(byId("voice-edge-config").textContent || "{}");
  var ui = {
    state: byId("state"), hint: byId("hint"), button: byId("call"), keyRow: byId("key-row"), key: byId("key"),
    error: byId("error"), cluster: byId("cluster"), region: byId("region"), ingress: byId("ingress"),
    ingressAddress: byId("ingress-address"), attempts: byId("attempts"), callId: byId("call-id"),
    setup: byId("setup-ms"), rtt: byId("rtt"), jitter: byId("jitter"), loss: byId("loss"),
    packetsIn: byId("packets-in"), packetsOut: byId("packets-out"), bitrate: byId("bitrate"),
    candidate: byId("candidate"), micMeter: byId("mic-meter"), micLevel: byId("mic-level"),
    outMeter: byId("out-meter"), outLevel: byId("out-level"), eventsIn: byId("events-in"),
    eventsOut: byId("events-out"), log: byId("log"), clearLog: byId("clear-log"), audio: byId("remote-audio"),
  };
  var MAX_LOG = 300;
  var call = null;

  if (cfg.mode !== "dev") {
    ui.keyRow.hidden = false;
    try { ui.key.value = sessionStorage.getItem("voice-edge-demo-key") || ""; } catch (e) { /* storage off */ }
  }

  // ---- small helpers ----
  function setText(el, text) { el.textContent = text; }
  function setState(state, label, hint) {
    ui.state.dataset.state = state;
    setText(ui.state, label);
    if (hint !== undefined) setText(ui.hint, hint);
    var busy = state === "connecting" || state === "connected" || state === "disconnected";
    ui.button.classList.toggle("hang", busy);
    ui.button.setAttribute("aria-label", busy ? "Hang up" : "Start a call");
    ui.button.title = busy ? "Hang up" : "Start a call";
    ui.key.disabled = busy;
  }
  function showError(message) {
    ui.error.hidden = !message;
    setText(ui.error, message || "");
  }
  function pad(n, w) { var s = String(n); while (s.length < w) s = "0" + s; return s; }
  function clock() {
    var d = new Date();
    return pad(d.getHours(), 2) + ":" + pad(d.getMinutes(), 2) + ":" + pad(d.getSeconds(), 2) + "." + pad(d.getMilliseconds(), 3);
  }
  function count(el, delta) {
    var n = Number(el.dataset.count || "0") + delta;
    el.dataset.count = String(n);
    setText(el, String(n));
  }
  function setCount(el, n) {
    el.dataset.count = String(n);
    setText(el, n.toLocaleString());
  }
  function randomId(prefix) {
    var bytes = new Uint8Array(9);
    crypto.getRandomValues(bytes);
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += bytes[i].toString(16).padStart(2, "0");
    return prefix + s;
  }

  // ---- the event log ----
  function logLine(kind, title, detail) {
    var atBottom = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
    var li = document.createElement("li");
    li.className = kind;
    var time = document.createElement("time");
    setText(time, clock());
    var dir = document.createElement("span");
    dir.className = "dir";
    setText(dir, kind === "in" ? "\u2193" : kind === "out" ? "\u2191" : kind === "err" ? "!" : "\u00b7");
    li.append(time, dir);
    if (detail !== undefined) {
      var details = document.createElement("details");
      var summary = document.createElement("summary");
      setText(summary, title);
      var pre = document.createElement("pre");
      setText(pre, typeof detail === "string" ? detail : JSON.stringify(detail, null, 2));
      details.append(summary, pre);
      li.append(details);
    } else {
      var span = document.createElement("span");
      setText(span, title);
      li.append(span);
    }
    ui.log.append(li);
    while (ui.log.childElementCount > MAX_LOG) ui.log.firstElementChild.remove();
    if (atBottom) ui.log.scrollTop = ui.log.scrollHeight;
  }
  function eventTitle(ev) {
    if (!ev || typeof ev !== "object") return "(not an object)";
    var t = typeof ev.type === "string" ? ev.type : "(no type)";
    if (ev.type === "error" && ev.error && ev.error.message) t += ": " + ev.error.message;
    else if (typeof ev.delta === "string" && ev.delta.length < 80 && !/audio/.test(t)) t += "  " + JSON.stringify(ev.delta);
    else if (typeof ev.transcript === "string") t += "  " + JSON.stringify(ev.transcript.slice(0, 120));
    return t;
  }

  // ---- keys and the API ----
  async function apiError(res, what) {
    var text = await res.text().catch(function () { return ""; });
    var msg = what + " failed: HTTP " + res.status;
    try {
      var body = JSON.parse(text);
      if (body && body.error) msg = what + " failed: " + (body.error.code ? body.error.code + ": " : "") + body.error.message;
    } catch (e) { /* not JSON */ }
    var retry = res.headers.get("retry-after");
    if (retry) msg += " (retry after " + retry + " s)";
    return new Error(msg);
  }
  async function obtainKey() {
    if (cfg.mode === "dev") {
      var res = await fetch("/v1/realtime/client_secrets", {
        method: "POST",
        headers: { authorization: "Bearer " + cfg.devKey, "content-type": "application/json" },
        body: JSON.stringify({ expires_after: { anchor: "created_at", seconds: 600 }, session: { type: "realtime" } }),
      });
      if (!res.ok) throw await apiError(res, "Minting an ephemeral key");
      var minted = await res.json();
      logLine("sys", "ephemeral key minted with the dev API key (expires " + new Date(minted.expires_at * 1000).toLocaleTimeString() + ")");
      return minted.value;
    }
    var key = ui.key.value.trim();
    if (/^sk-/.test(key)) throw new Error("That is a server API key. Never put one in a web page: mint an ephemeral key (ek_…) on your server with POST /v1/realtime/client_secrets and paste that.");
    if (!/^ek_[A-Za-z0-9_-]+$/.test(key)) throw new Error("Paste an ephemeral key (ek_…) minted by your server with POST /v1/realtime/client_secrets.");
    try { sessionStorage.setItem("voice-edge-demo-key", key); } catch (e) { /* storage off */ }
    return key;
  }
  function showRoute(headers) {
    var cluster = headers.get("x-voice-edge-cluster");
    setText(ui.cluster, cluster || "\u2014");
    setText(ui.region, headers.get("x-voice-edge-region") || "\u2014");
    setText(ui.ingress, headers.get("x-voice-edge-ingress") || "\u2014");
    setText(ui.ingressAddress, headers.get("x-voice-edge-ingress-address") || "\u2014");
    var attempts = headers.get("x-voice-edge-attempts");
    setText(ui.attempts, attempts ? attempts + (Number(attempts) > 1 ? " (failed over)" : "") : "\u2014");
    ui.attempts.classList.toggle("failover", Number(attempts) > 1);
    ui.attempts.dataset.value = attempts || "";
    ui.cluster.dataset.value = cluster || "";
  }
  function resetView() {
    showError("");
    [ui.cluster, ui.region, ui.ingress, ui.ingressAddress, ui.attempts, ui.callId, ui.setup, ui.rtt, ui.jitter,
      ui.loss, ui.bitrate, ui.candidate].forEach(function (el) { setText(el, "\u2014"); });
    ui.cluster.dataset.value = "";
    ui.attempts.classList.remove("failover");
    ui.attempts.dataset.value = "";
    setCount(ui.packetsIn, 0);
    setCount(ui.packetsOut, 0);
    setCount(ui.eventsIn, 0);
    setCount(ui.eventsOut, 0);
    [ui.micMeter, ui.outMeter].forEach(function (m) { m.dataset.peak = "0"; m.dataset.level = "0"; m.firstElementChild.style.clipPath = "inset(0 100% 0 0)"; });
    setText(ui.micLevel, "\u2014");
    setText(ui.outLevel, "\u2014");
  }

  // ---- level meters (Web Audio) ----
  function attachMeter(c, stream, which) {
    if (!c.ctx) return;
    try {
      var source = c.ctx.createMediaStreamSource(stream);
      var analyser = c.ctx.createAnalyser();
      analyser.fftSize = 1024;
      source.connect(analyser);
      c.meters[which] = { analyser: analyser, buf: new Float32Array(analyser.fftSize), peak: 0 };
      if (c.ctx.state !== "running") c.ctx.resume().catch(function () {});
    } catch (e) {
      logLine("err", "level meter unavailable: " + e.message);
    }
  }
  function drawMeters(c) {
    [["mic", ui.micMeter, ui.micLevel], ["out", ui.outMeter, ui.outLevel]].forEach(function (m) {
      var meter = c.meters[m[0]];
      if (!meter) return;
      meter.analyser.getFloatTimeDomainData(meter.buf);
      var sum = 0;
      for (var i = 0; i < meter.buf.length; i++) sum += meter.buf[i] * meter.buf[i];
      var rms = Math.sqrt(sum / meter.buf.length);
      var db = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
      var level = Math.max(0, Math.min(1, (db + 60) / 60));
      meter.peak = Math.max(meter.peak, rms);
      m[1].dataset.level = rms.toFixed(4);
      m[1].dataset.peak = meter.peak.toFixed(4);
      m[1].firstElementChild.style.clipPath = "inset(0 " + (100 - level * 100).toFixed(1) + "% 0 0)";
      setText(m[2], db > -100 ? db.toFixed(0) + " dBFS" : "silent");
    });
  }

  // ---- stats ----
  async function pollStats(c) {
    if (!c.pc || c.closed) return;
    var report = await c.pc.getStats();
    var selectedPairId = null, pairs = [], inbound = null, outbound = null, remoteInbound = null;
    report.forEach(function (s) {
      if (s.type === "transport" && s.selectedCandidatePairId) selectedPairId = s.selectedCandidatePairId;
      else if (s.type === "candidate-pair") pairs.push(s);
      else if (s.type === "inbound-rtp" && s.kind === "audio") inbound = s;
      else if (s.type === "outbound-rtp" && s.kind === "audio") outbound = s;
      else if (s.type === "remote-inbound-rtp" && s.kind === "audio") remoteInbound = s;
    });
    var pair = (selectedPairId && report.get(selectedPairId)) ||
      pairs.find(function (p) { return p.selected; }) ||
      pairs.find(function (p) { return p.nominated && p.state === "succeeded"; }) || null;
    var rtt = null;
    if (pair && typeof pair.currentRoundTripTime === "number") rtt = pair.currentRoundTripTime;
    else if (pair && c.lastPair && pair.responsesReceived > c.lastPair.responsesReceived && typeof pair.totalRoundTripTime === "number")
      rtt = (pair.totalRoundTripTime - c.lastPair.totalRoundTripTime) / (pair.responsesReceived - c.lastPair.responsesReceived);
    else if (remoteInbound && typeof remoteInbound.roundTripTime === "number") rtt = remoteInbound.roundTripTime;
    if (pair) c.lastPair = { responsesReceived: pair.responsesReceived || 0, totalRoundTripTime: pair.totalRoundTripTime || 0 };
    if (rtt !== null) setText(ui.rtt, (rtt * 1000).toFixed(1) + " ms");
    if (pair) {
      var remote = report.get(pair.remoteCandidateId);
      var local = report.get(pair.localCandidateId);
      if (remote && local)
        setText(ui.candidate, (local.address || local.ip || local.candidateType || "?") + " \u2192 " + (remote.address || remote.ip || "?") + ":" + remote.port);
    }
    if (inbound) {
      var received = inbound.packetsReceived || 0;
      var lost = Math.max(0, inbound.packetsLost || 0);
      setCount(ui.packetsIn, received);
      if (typeof inbound.jitter === "number") setText(ui.jitter, (inbound.jitter * 1000).toFixed(1) + " ms");
      setText(ui.loss, received + lost > 0 ? ((100 * lost) / (received + lost)).toFixed(1) + " %" : "0.0 %");
      var now = performance.now();
      if (c.lastBytes !== undefined && now > c.lastBytesAt) {
        var kbps = ((inbound.bytesReceived - c.lastBytes) * 8) / (now - c.lastBytesAt);
        setText(ui.bitrate, kbps.toFixed(1) + " kb/s");
      }
      c.lastBytes = inbound.bytesReceived || 0;
      c.lastBytesAt = now;
    }
    if (outbound) setCount(ui.packetsOut, outbound.packetsSent || 0);
  }

  // ---- the call ----
  function onMessage(c, data) {
    if (c !== call) return;
    count(ui.eventsIn, 1);
    var ev;
    try { ev = JSON.parse(data); } catch (e) {
      logLine("in", "(text) " + String(data).slice(0, 200));
      return;
    }
    logLine(ev && ev.type === "error" ? "err" : "in", eventTitle(ev), ev);
  }
  function sendEvent(c, ev) {
    if (!c.dc || c.dc.readyState !== "open") return;
    c.dc.send(JSON.stringify(ev));
    count(ui.eventsOut, 1);
    logLine("out", eventTitle(ev), ev);
  }
  function onPeerState(c) {
    if (c !== call) return;
    var s = c.pc.connectionState;
    if (s === "connected") {
      var ms = Math.round(performance.now() - c.started);
      setText(ui.setup, ms + " ms");
      setState("connected", "Connected", "Talk: in echo mode you hear yourself, with a voice agent it answers.");
      logLine("sys", "media connected (" + ms + " ms from the click)");
    } else if (s === "disconnected") {
      setState("disconnected", "Reconnecting\u2026", "No media for a few seconds; waiting for the path to recover.");
      logLine("err", "media path interrupted");
    } else if (s === "failed") {
      fail(c, new Error("The media path failed: no packets from the relay."));
    }
  }
  function release(c) {
    c.closed = true;
    c.timers.forEach(clearInterval);
    if (c.dc) try { c.dc.close(); } catch (e) { /* already closed */ }
    if (c.pc) try { c.pc.close(); } catch (e) { /* already closed */ }
    if (c.mic) c.mic.getTracks().forEach(function (t) { t.stop(); });
    if (c.ctx) c.ctx.close().catch(function () {});
    ui.audio.srcObject = null;
  }
  function endOnServer(c) {
    if (!c.callId || !c.key) return;
    fetch("/v1/realtime/calls/" + encodeURIComponent(c.callId) + "/hangup", {
      method: "POST", headers: { authorization: "Bearer " + c.key }, keepalive: true,
    }).then(function (res) {
      logLine(res.ok ? "sys" : "err", res.ok ? "call ended on the server" : "hangup answered HTTP " + res.status);
    }, function () { /* page going away */ });
  }
  function fail(c, err) {
    if (c !== call) return;
    call = null;
    release(c);
    endOnServer(c);
    setState("failed", "Call failed", "Fix what the message says, then try again.");
    showError(err && err.message ? err.message : String(err));
    logLine("err", err && err.message ? err.message : String(err));
  }
  function hangup() {
    var c = call;
    if (!c) return;
    call = null;
    release(c);
    endOnServer(c);
    setState("ended", "Call ended", "Press the button to call again.");
    logLine("sys", "hung up");
  }

  async function connect() {
    resetView();
    var c = { started: performance.now(), pc: null, dc: null, mic: null, ctx: null, key: null, callId: null, timers: [], meters: {}, closed: false };
    call = c;
    setState("connecting", "Connecting\u2026", "Asking for the microphone and placing the call.");
    // Created inside the click (a user gesture), before any await, so it may start.
    try { c.ctx = new AudioContext(); } catch (e) { c.ctx = null; }
    try {
      c.key = await obtainKey();
      if (c.closed) return;
      c.mic = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
      if (c.closed) { release(c); return; }
      attachMeter(c, c.mic, "mic");
      // No ICE servers: the answer's only candidate is the Global Relay ingress.
      var pc = new RTCPeerConnection();
      c.pc = pc;
      pc.addTrack(c.mic.getAudioTracks()[0], c.mic);
      pc.ontrack = function (e) {
        var stream = e.streams[0] || new MediaStream([e.track]);
        ui.audio.srcObject = stream;
        ui.audio.play().catch(function () { /* autoplay refused: the meter still shows the audio */ });
        attachMeter(c, stream, "out");
      };
      pc.onconnectionstatechange = function () { onPeerState(c); };
      var dc = pc.createDataChannel("oai-events");
      c.dc = dc;
      dc.onopen = function () {
        logLine("sys", "data channel oai-events open");
        // As the Agents SDK does: configure the session as soon as the channel opens.
        sendEvent(c, {
          type: "session.update",
          event_id: randomId("event_"),
          session: {
            type: "realtime",
            instructions: "You are the voice-edge demo agent. Be brief and friendly.",
            output_modalities: ["audio"],
            audio: { input: { turn_detection: { type: "server_vad" } }, output: { voice: "alloy" } },
          },
        });
      };
      dc.onmessage = function (e) { onMessage(c, e.data); };
      await pc.setLocalDescription(await pc.createOffer());
      var res = await fetch("/v1/realtime/calls", {
        method: "POST",
        headers: { authorization: "Bearer " + c.key, "content-type": "application/sdp" },
        body: pc.localDescription.sdp,
      });
      showRoute(res.headers);
      if (res.status !== 201) throw await apiError(res, "Placing the call");
      var location = res.headers.get("location") || "";
      c.callId = location.slice(location.lastIndexOf("/") + 1) || null;
      setText(ui.callId, c.callId ? c.callId.slice(0, 16) + "\u2026" : "\u2014");
      ui.callId.title = c.callId || "";
      var answer = await res.text();
      if (c.closed) { endOnServer(c); return; }
      logLine("sys", "answer from cluster " + res.headers.get("x-voice-edge-cluster") + " (" + res.headers.get("x-voice-edge-region") +
        ") via ingress " + res.headers.get("x-voice-edge-ingress") + ", " + res.headers.get("x-voice-edge-attempts") + " attempt(s)");
      await pc.setRemoteDescription({ type: "answer", sdp: answer });
      c.timers.push(setInterval(function () { pollStats(c).catch(function () {}); }, 1000));
      c.timers.push(setInterval(function () { drawMeters(c); }, 50));
    } catch (err) {
      fail(c, err);
    }
  }

  ui.button.addEventListener("click", function () {
    if (call) hangup();
    else connect();
  });
  ui.key.addEventListener("keydown", function (e) { if (e.key === "Enter" && !call) connect(); });
  ui.clearLog.addEventListener("click", function () { ui.log.replaceChildren(); });
  window.addEventListener("pagehide", function () { if (call) hangup(); });
  resetView();
  setState("idle", "Ready", cfg.mode === "dev"
    ? "Dev mode: the page mints an ephemeral key with the local dev API key, like your server would."
    : "Paste an ephemeral key from your server, then call.");
})();
`;
