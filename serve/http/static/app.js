// zoo serve's page: plain JavaScript, no build step. Every request carries the token
// typed in the page (kept in this browser's localStorage), so it works with --token too.
"use strict";

const $ = (id) => document.getElementById(id);
const tokenField = $("token");
tokenField.value = localStorage.getItem("zoo-token") || "";
tokenField.addEventListener("change", () => {
  localStorage.setItem("zoo-token", tokenField.value);
  loadModels().then(() => { drawFaces(); drawWalk(); });
});

async function call(url, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (tokenField.value) headers["Authorization"] = "Bearer " + tokenField.value;
  const response = await fetch(url, Object.assign({}, options, { headers }));
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error || message; } catch (ignored) { /* not JSON */ }
    if (response.status === 401) message = "this server needs its token: type it in the Token field above";
    throw new Error(message);
  }
  return response;
}

async function loadModels() {
  try {
    const server = await (await call("v2")).json();
    const names = [];
    for (const name of ["clock", "faces"]) {
      try { await call("v2/models/" + name); names.push(name); } catch (ignored) { /* not served */ }
    }
    $("models").textContent = (names.join(", ") || "no release models") + " (zoo " + server.version + ")";
  } catch (error) {
    $("models").textContent = error.message;
  }
}

// ------------------------------------------------------------------ the clock
let photoUrl = null;

function showError(element, error) {
  element.textContent = error.message;
  element.className = "error";
}

async function readClock(file) {
  const reading = $("reading"), detail = $("reading-detail"), dial = $("dial"), photo = $("photo");
  reading.textContent = "reading…";
  reading.className = "";
  detail.textContent = "";
  dial.style.display = "none";
  if (photoUrl) URL.revokeObjectURL(photoUrl);
  photoUrl = URL.createObjectURL(file);
  photo.src = photoUrl;
  try {
    const find = $("find").checked ? "?find=1" : "?find=0";
    const answer = await (await call("time" + find, {
      method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" },
    })).json();
    reading.textContent = answer.time + (answer.sure ? "" : " (unsure)");
    reading.className = answer.sure ? "" : "unsure";
    detail.textContent = "confidence " + answer.confidence.toFixed(2) + ", " + answer.minutes.toFixed(1) +
      " minutes past twelve" + (answer.box ? "; the red circle is the dial found" : "");
    if (answer.box) {
      await photo.decode().catch(() => {});
      drawDial(answer.box);
    }
  } catch (error) {
    showError(reading, error);
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

// ------------------------------------------------------------------ faces
async function picture(url) {
  return URL.createObjectURL(await (await call(url)).blob());
}

async function drawFaces() {
  const grid = $("grid");
  try {
    const url = await picture("faces.png?count=" + encodeURIComponent($("count").value) +
                              "&seed=" + encodeURIComponent($("seed").value));
    grid.onload = () => { grid.style.width = grid.naturalWidth * 2 + "px"; URL.revokeObjectURL(url); };
    grid.src = url;
  } catch (error) {
    grid.removeAttribute("src");
    grid.alt = error.message;
  }
}
$("draw").addEventListener("click", drawFaces);

// ------------------------------------------------------------------ the walk
const STEPS = 16, PADDING = 2;
let strip = null;

async function drawWalk() {
  try {
    const url = await picture("interpolate.png?seeds=" + encodeURIComponent($("seed-a").value) + "," +
                              encodeURIComponent($("seed-b").value) + "&steps=" + STEPS +
                              "&spherical=" + ($("spherical").checked ? 1 : 0));
    const image = new Image();
    image.onload = () => { strip = image; showStep(); };
    image.src = url;
  } catch (error) {
    $("walk-step").textContent = error.message;
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
  $("walk-step").textContent = "face " + (step + 1) + " of " + STEPS;
}

$("walk").max = STEPS - 1;
$("walk").addEventListener("input", showStep);
$("walk-draw").addEventListener("click", drawWalk);

loadModels().then(() => { drawFaces(); drawWalk(); });
