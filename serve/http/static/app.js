// zoo serve's page: plain JavaScript, no build step, nothing fetched from elsewhere. Every
// request carries the access token typed in the page (kept in this browser's localStorage),
// so it works with zoo serve --token too.
"use strict";

const $ = (id) => document.getElementById(id);
const tokenField = $("token");
tokenField.value = localStorage.getItem("zoo-token") || "";
tokenField.addEventListener("change", () => {
  localStorage.setItem("zoo-token", tokenField.value);
  start();
});

// ------------------------------------------------------------------ requests and errors
async function call(url, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (tokenField.value) headers["Authorization"] = "Bearer " + tokenField.value;
  let response;
  try {
    response = await fetch(url, Object.assign({}, options, { headers }));
  } catch (error) {
    throw new Error("the server did not answer (is zoo serve still running?)");
  }
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error || message; } catch (ignored) { /* not JSON */ }
    if (response.status === 401) {
      $("access").open = true;
      message = tokenField.value ? "the access token is wrong: check it in the Access token box at the top"
        : "this server needs an access token: type it in the Access token box at the top";
    }
    // The server names an upload "upload" in its messages: the page says what failed itself.
    throw new Error(message.replace(/^upload: /, ""));
  }
  return response;
}

// An error in words, in the box next to the control that failed (and the field it names marked).
function showError(id, what, error, fields = {}) {
  const box = $(id);
  box.textContent = what + ": " + error.message + (/[.!?]$/.test(error.message) ? "" : ".");
  box.hidden = false;
  for (const [word, fieldId] of Object.entries(fields)) {
    if (error.message.startsWith(word + " ")) $(fieldId).setAttribute("aria-invalid", "true");
  }
}

function clearError(id, fieldIds = []) {
  $(id).hidden = true;
  $(id).textContent = "";
  for (const fieldId of fieldIds) $(fieldId).removeAttribute("aria-invalid");
}

function percent(probability) {
  const value = probability * 100;
  return (value >= 99.5 ? "over 99" : value < 1 ? "under 1" : value.toFixed(0)) + "%";
}

// ------------------------------------------------------------------ the models this server runs
// The release models the page knows, each checked against what the server says it is
// (GET v2/models/NAME): a model of that name but another kind is left out.
const outputNames = (meta) => (meta.outputs || []).map((output) => output.name);
const MODELS = [
  { name: "clock", cards: ["clock-card"], title: "Clock reader", does: "reads the time on a photo of a clock",
    fits: (meta) => outputNames(meta).includes("hour") && outputNames(meta).includes("minute") },
  { name: "mnist", cards: ["mnist-card"], title: "Digit reader", does: "tells which digit, 0 to 9, is handwritten",
    fits: (meta) => outputNames(meta).includes("probabilities") },
  { name: "cifar10", cards: ["cifar10-card"], title: "Photo sorter",
    does: "tells which of ten kinds of thing (animals and vehicles) a photo shows",
    fits: (meta) => outputNames(meta).includes("probabilities") },
  { name: "faces", cards: ["faces-card", "walk-card"], title: "Face maker",
    does: "makes up faces of people who do not exist",
    fits: (meta) => (meta.inputs || []).length === 1 && (meta.outputs || []).length === 1 &&
                    (meta.outputs[0].shape || []).length === 4 },
];
const served = new Set();

async function loadModels() {
  const status = $("status"), list = $("model-list");
  served.clear();
  try {
    const server = await (await call("v2")).json();
    $("version").textContent = "This is zoo " + server.version + ".";
    await Promise.all(MODELS.map(async (model) => {
      try {
        const meta = await (await call("v2/models/" + model.name)).json();
        if (model.fits(meta)) served.add(model.name);
      } catch (ignored) { /* not served */ }
    }));
  } catch (error) {
    status.textContent = "Could not ask the server which models it runs: " + error.message + ".";
    status.className = "status-error";
    list.hidden = true;
    for (const model of MODELS) for (const card of model.cards) $(card).hidden = true;
    return;
  }
  list.replaceChildren();
  for (const model of MODELS) {
    const here = served.has(model.name);
    for (const card of model.cards) $(card).hidden = !here;
    if (!here) continue;
    const item = document.createElement("li"), link = document.createElement("a");
    link.href = "#" + model.cards[0];
    link.textContent = model.title;
    item.append(link, ": " + model.does + ".");
    list.append(item);
  }
  status.className = "";
  status.textContent = served.size ? "This server runs " + (served.size === 1 ? "one model" : served.size + " models") + ":"
    : "This server runs none of the models this page knows (the clock reader, digit reader, photo sorter and face maker).";
  list.hidden = served.size === 0;
}

async function start() {
  document.body.dataset.ready = "";
  await loadModels();
  if (served.has("faces")) await Promise.all([drawFaces(), drawWalk()]);
  document.body.dataset.ready = "true";
}

// ------------------------------------------------------------------ the clock
let photoUrl = null, lastBox = null;

async function readClock(file) {
  const reading = $("reading"), detail = $("reading-detail"), dial = $("dial"), photo = $("photo");
  clearError("clock-error");
  reading.textContent = "Reading…";
  reading.className = "big";
  detail.textContent = "";
  dial.style.display = "none";
  lastBox = null;
  if (photoUrl) URL.revokeObjectURL(photoUrl);
  photoUrl = URL.createObjectURL(file);
  photo.src = photoUrl;
  photo.alt = "the photo you picked";
  photo.hidden = false;
  try {
    const find = $("find").checked ? "?find=1" : "?find=0";
    const answer = await (await call("time" + find, {
      method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" },
    })).json();
    reading.textContent = answer.time + (answer.sure ? "" : " (unsure)");
    reading.className = "big" + (answer.sure ? "" : " unsure");
    detail.textContent = (answer.sure ? "The model is fairly sure of this reading"
      : "The model is not sure: this reading may well be wrong") +
      " (confidence " + percent(answer.confidence) + ")." + (answer.box ? " The red circle shows the clock it found." : "");
    if (answer.box) {
      await photo.decode().catch(() => {});
      lastBox = answer.box;
      drawDial(answer.box);
    }
  } catch (error) {
    reading.textContent = "";
    showError("clock-error", "Could not read the time", error);
  }
}

function drawDial(box) {
  const photo = $("photo"), dial = $("dial");
  const scale = photo.clientWidth / photo.naturalWidth;
  dial.style.left = box[0] * scale + "px";
  dial.style.top = box[1] * scale + "px";
  dial.style.width = (box[2] - box[0]) * scale + "px";
  dial.style.height = (box[3] - box[1]) * scale + "px";
  dial.style.display = "block";
}

const drop = $("drop");
$("file").addEventListener("change", (event) => { if (event.target.files[0]) readClock(event.target.files[0]); });
drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  if (event.dataTransfer.files[0]) readClock(event.dataTransfer.files[0]);
});
// The circle follows the photo when the page is resized (a phone turned round).
window.addEventListener("resize", () => { if (lastBox) drawDial(lastBox); });

// ------------------------------------------------------------------ the classifiers
// POST classify?model=NAME&top=3 with the picture; the answer: its class, probability and top 3.
async function classify(name, blob, previewUrl) {
  const shown = $(name + "-class"), detail = $(name + "-detail"), preview = $(name + "-preview");
  clearError(name + "-error");
  shown.textContent = "Looking…";
  detail.textContent = "";
  if (previewUrl) {
    preview.src = previewUrl;
    preview.alt = "the picture you picked";
    preview.hidden = false;
  } else {
    preview.hidden = true;
  }
  try {
    const answer = await (await call("classify?model=" + encodeURIComponent(name) + "&top=3", {
      method: "POST", body: blob, headers: { "Content-Type": blob.type || "application/octet-stream" },
    })).json();
    shown.textContent = answer.class;
    const others = answer.top.slice(1).map((guess) => guess.class + " (" + percent(guess.probability) + ")");
    detail.textContent = "The model is " + percent(answer.probability) + " sure." +
      (others.length ? " Its next guesses: " + others.join(", ") + "." : "");
  } catch (error) {
    shown.textContent = "";
    showError(name + "-error", "Could not classify the picture", error);
  }
}

const previews = {};
for (const name of ["mnist", "cifar10"]) {
  $(name + "-file").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (!file) return;
    if (previews[name]) URL.revokeObjectURL(previews[name]);
    previews[name] = URL.createObjectURL(file);
    classify(name, file, previews[name]);
  });
}

// The drawing box: dark strokes on white. What is sent is the digit cropped and centred in a
// square with a margin, as the digits the model learnt from are.
const pad = $("digit-pad"), ink = pad.getContext("2d");
const STROKE = 22;
let drawn = null, last = null;

function clearPad() {
  ink.fillStyle = "#fff";
  ink.fillRect(0, 0, pad.width, pad.height);
  drawn = null;
}

function padPoint(event) {
  const rect = pad.getBoundingClientRect();
  return [(event.clientX - rect.left) * pad.width / rect.width, (event.clientY - rect.top) * pad.height / rect.height];
}

function stroke(to) {
  const from = last || to;
  ink.strokeStyle = "#000";
  ink.lineWidth = STROKE;
  ink.lineCap = ink.lineJoin = "round";
  ink.beginPath();
  ink.moveTo(from[0], from[1]);
  ink.lineTo(to[0], to[1]);
  ink.stroke();
  drawn = drawn || [to[0], to[1], to[0], to[1]];
  drawn = [Math.min(drawn[0], to[0]), Math.min(drawn[1], to[1]), Math.max(drawn[2], to[0]), Math.max(drawn[3], to[1])];
  last = to;
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  last = null;
  stroke(padPoint(event));
});
pad.addEventListener("pointermove", (event) => { if (last) stroke(padPoint(event)); });
for (const type of ["pointerup", "pointercancel"]) pad.addEventListener(type, () => { last = null; });
$("mnist-clear").addEventListener("click", () => {
  clearPad();
  clearError("mnist-error");
  $("mnist-class").textContent = $("mnist-detail").textContent = "";
  $("mnist-preview").hidden = true;
});
$("mnist-read").addEventListener("click", () => {
  if (!drawn) {
    showError("mnist-error", "Nothing to read", new Error("write a digit in the box first"));
    return;
  }
  const side = Math.max(drawn[2] - drawn[0], drawn[3] - drawn[1]) + STROKE;
  const size = 112, inner = size * 20 / 28;  // the digit in the middle 20 of 28 pixels
  const square = document.createElement("canvas");
  square.width = square.height = size;
  const context = square.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, size, size);
  const centre = [(drawn[0] + drawn[2]) / 2, (drawn[1] + drawn[3]) / 2];
  context.drawImage(pad, centre[0] - side / 2, centre[1] - side / 2, side, side,
                    (size - inner) / 2, (size - inner) / 2, inner, inner);
  square.toBlob((blob) => classify("mnist", blob, null), "image/png");
});
clearPad();

// ------------------------------------------------------------------ faces
async function picture(url) {
  return URL.createObjectURL(await (await call(url)).blob());
}

async function drawFaces() {
  const grid = $("grid");
  clearError("faces-error", ["count", "seed"]);
  try {
    const count = $("count").value, url = await picture("faces.png?count=" + encodeURIComponent(count) +
                                                        "&seed=" + encodeURIComponent($("seed").value));
    await new Promise((resolve) => {
      grid.onload = () => {
        // Twice the pictures' size where it fits: the card's width otherwise (CSS max-width).
        grid.style.width = grid.naturalWidth * 2 + "px";
        URL.revokeObjectURL(url);
        resolve();
      };
      grid.onerror = resolve;
      grid.src = url;
    });
    grid.alt = count + " made-up faces (none of them is a real person)";
    grid.hidden = false;
  } catch (error) {
    grid.hidden = true;
    showError("faces-error", "Could not make the faces", error, { count: "count", seed: "seed" });
  }
}
$("draw").addEventListener("click", drawFaces);

// ------------------------------------------------------------------ the walk
const STEPS = 16, PADDING = 2;
let strip = null;

async function drawWalk() {
  clearError("walk-error", ["seed-a", "seed-b"]);
  try {
    const url = await picture("interpolate.png?seeds=" + encodeURIComponent($("seed-a").value) + "," +
                              encodeURIComponent($("seed-b").value) + "&steps=" + STEPS + "&spherical=1");
    const image = new Image();
    await new Promise((resolve) => {
      image.onload = () => { strip = image; showStep(); resolve(); };
      image.onerror = resolve;
      image.src = url;
    });
  } catch (error) {
    showError("walk-error", "Could not show the faces", error);
    for (const fieldId of ["seed-a", "seed-b"]) if ($(fieldId).value === "") $(fieldId).setAttribute("aria-invalid", "true");
  }
}

function showStep() {
  if (!strip) return;
  const step = Number($("walk").value);
  // The strip is STEPS faces in a row, PADDING pixels round each (zoo.common.imagegrid.tile).
  const side = (strip.naturalWidth - PADDING) / STEPS - PADDING;
  const canvas = $("walk-face");
  canvas.width = side;
  canvas.height = strip.naturalHeight - 2 * PADDING;
  canvas.getContext("2d").drawImage(strip, PADDING + step * (side + PADDING), PADDING, side, canvas.height,
                                    0, 0, side, canvas.height);
  $("walk-step").textContent = (step + 1) + " of " + STEPS;
  canvas.setAttribute("aria-label", "made-up face, step " + (step + 1) + " of " + STEPS);
}

$("walk").max = STEPS - 1;
$("walk").addEventListener("input", showStep);
$("walk-draw").addEventListener("click", drawWalk);

start();
