// The sseft serve page: plain browser JavaScript, no library and nothing fetched from the internet.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = ["#1a73e8", "#e8710a", "#0b8043", "#c62828", "#8e24aa", "#00838f", "#6d4c41", "#3949ab"];
let models = [];
let recorded = null;   // {blob, kind: "audio"|"video"} from the last recording
let recorder = null;

function headers() {
  const h = {};
  const t = $("token").value.trim();
  if (t) h["Authorization"] = "Bearer " + t;
  return h;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

async function errorText(resp) {
  try {
    const body = await resp.json();
    if (body && body.error) return body.error;
  } catch (e) { /* not JSON */ }
  return "the service answered " + resp.status + " " + resp.statusText;
}

async function loadModels() {
  const resp = await fetch("v1/models", { headers: headers() });
  if (resp.status === 401) {
    $("token-row").hidden = false;
    showError(await errorText(resp));
    return;
  }
  if (!resp.ok) { showError(await errorText(resp)); return; }
  showError("");
  models = (await resp.json()).models;
  const sel = $("model");
  sel.innerHTML = "";
  for (const m of models) {
    const opt = document.createElement("option");
    opt.value = m.name;
    opt.textContent = m.ref + " (" + m.modalities.map((x) => x.name).join(" + ") + ")";
    sel.appendChild(opt);
  }
  describeModel();
}

function describeModel() {
  const m = models.find((x) => x.name === $("model").value);
  if (!m) return;
  const inputs = m.modalities.map((x) => x.name + " from " + x.inputs.join(" or ")).join("; ");
  $("model-info").textContent = "labels: " + m.label_names.join(", ") + ". Inputs: " + inputs + ".";
}

function barList(ul, values, opts) {
  ul.innerHTML = "";
  const entries = Object.entries(values);
  const scale = opts.signed ? Math.max(1e-6, ...entries.map(([, v]) => Math.abs(v))) : 1;
  for (const [name, v] of entries) {
    const li = document.createElement("li");
    li.dataset.name = name;
    li.dataset.value = String(v);
    if (name === opts.top) li.classList.add("top");
    const label = document.createElement("span");
    label.className = "name";
    label.textContent = name;
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.setAttribute("role", "meter");
    bar.setAttribute("aria-label", name);
    bar.setAttribute("aria-valuemin", opts.signed ? String(-scale) : "0");
    bar.setAttribute("aria-valuemax", String(scale));
    bar.setAttribute("aria-valuenow", String(v));
    const fill = document.createElement("span");
    fill.style.width = Math.min(100, (100 * Math.abs(v)) / scale).toFixed(1) + "%";
    if (v < 0) fill.className = "neg";
    bar.appendChild(fill);
    const num = document.createElement("span");
    num.className = "value";
    num.textContent = (opts.signed && v > 0 ? "+" : "") + v.toFixed(3);
    li.append(label, bar, num);
    ul.appendChild(li);
  }
}

function showTimeline(tl) {
  $("timeline-box").hidden = !tl;
  if (!tl) return;
  const names = tl.label_names;
  const strip = $("timeline-strip");
  strip.innerHTML = "";
  const body = $("timeline").querySelector("tbody");
  body.innerHTML = "";
  for (const s of tl.segments) {
    const part = document.createElement("div");
    part.style.flex = String(Math.max(0.01, s.end - s.start));
    const k = Math.max(0, names.indexOf(s.label));
    part.style.background = s.error ? "#999" : COLORS[k % COLORS.length];
    part.textContent = s.label || "error";
    part.title = s.start.toFixed(1) + "-" + s.end.toFixed(1) + " s: " + (s.label || s.error);
    strip.appendChild(part);
    const tr = document.createElement("tr");
    const p = s.label && s.probabilities[s.label] !== undefined ? s.probabilities[s.label].toFixed(3) : "";
    for (const cell of [s.start.toFixed(2), s.end.toFixed(2), s.label || ("error: " + s.error), p, s.text]) {
      const td = document.createElement("td");
      td.textContent = cell;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

function showResult(r) {
  $("result").hidden = false;
  $("label").textContent = r.label !== null ? r.label : r.summary;
  $("summary").textContent = r.summary + " - model " + r.model + ", " + r.elapsed_ms.toFixed(0) + " ms";
  barList($("bars"), r.probabilities, { top: r.label });
  barList($("contributions"), r.contributions, { signed: true });
  const notes = $("notes");
  notes.innerHTML = "";
  for (const n of r.notes) {
    const li = document.createElement("li");
    li.textContent = n;
    notes.appendChild(li);
  }
  showTimeline(r.timeline);
  $("attention-box").hidden = !r.attention_png;
  if (r.attention_png) $("attention-img").src = "data:image/png;base64," + r.attention_png;
}

function clipKind(file) {
  return (file.type || "").startsWith("audio/") || /\.(wav|flac|ogg|oga|mp3|m4a)$/i.test(file.name) ? "audio" : "video";
}

async function predict(event) {
  event.preventDefault();
  showError("");
  const name = $("model").value;
  if (!name) { showError("no model to pick: the service lists none (GET /v1/models)"); return; }
  const form = new FormData();
  const file = $("clip").files[0];
  if (file) form.append(clipKind(file), file, file.name);
  else if (recorded) form.append(recorded.kind, recorded.blob, "recording.webm");
  const text = $("text").value;
  if (text.trim()) form.append("text", text);
  const subs = $("subtitles").files[0];
  if (subs) form.append("transcript", subs, subs.name);
  form.append("segments", $("segments").value);
  if ($("segment-seconds").value) form.append("segment_seconds", $("segment-seconds").value);
  if ($("attention").checked) form.append("attention", "true");
  $("predict").disabled = true;
  $("busy").textContent = "predicting...";
  try {
    const resp = await fetch("v1/models/" + encodeURIComponent(name) + "/predict", {
      method: "POST", body: form, headers: headers(),
    });
    if (!resp.ok) { showError(await errorText(resp)); $("result").hidden = true; return; }
    showResult(await resp.json());
  } catch (e) {
    showError("could not reach the service: " + e.message);
  } finally {
    $("predict").disabled = false;
    $("busy").textContent = "";
  }
}

async function startRecording(kind) {
  showError("");
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    showError("this browser cannot record here (recording needs https or localhost and MediaRecorder)");
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia(kind === "video" ? { audio: true, video: true } : { audio: true });
  } catch (e) {
    showError("no access to the " + (kind === "video" ? "webcam" : "microphone") + ": " + e.message);
    return;
  }
  if (kind === "video") { $("preview").srcObject = stream; $("preview").hidden = false; $("preview").play(); }
  const chunks = [];
  recorder = new MediaRecorder(stream);
  recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
  recorder.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    $("preview").hidden = true;
    const type = (recorder.mimeType || (kind + "/webm")).split(";")[0];
    recorded = { blob: new Blob(chunks, { type }), kind: kind === "video" ? "video" : "audio" };
    $("clip").value = "";
    $("record-status").textContent = "recorded " + (recorded.blob.size / 1024).toFixed(0) + " KiB of " + kind + "; press Predict";
    $("record-stop").disabled = true;
    $("record-audio").disabled = $("record-video").disabled = false;
  };
  recorder.start(250);
  $("record-status").textContent = "recording " + kind + "...";
  $("record-stop").disabled = false;
  $("record-audio").disabled = $("record-video").disabled = true;
  $("record-stop").focus();
}

$("predict-form").addEventListener("submit", predict);
$("model").addEventListener("change", describeModel);
$("token").addEventListener("change", loadModels);
$("record-audio").addEventListener("click", () => startRecording("audio"));
$("record-video").addEventListener("click", () => startRecording("video"));
$("record-stop").addEventListener("click", () => { if (recorder && recorder.state !== "inactive") recorder.stop(); });
$("clip").addEventListener("change", () => { recorded = null; $("record-status").textContent = ""; });
loadModels();
