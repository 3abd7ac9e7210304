#!/usr/bin/env node
// Runs an exported zoo model in onnxruntime for Node.js: a runtime other than
// Python's onnxruntime, so a test can show that model.onnx is usable outside Python.
//
// Usage: node run.js MODEL.onnx FOLDER
//
// FOLDER/inputs.json lists the inputs: [{"name": "image", "shape": [1, 28, 28, 1],
// "file": "image.bin"}, ...], each file holding little-endian float32 values in
// row-major order. The script writes FOLDER/outputs.json in the same form (plus
// "dtype", the declared shapes and the runtime's version) and one
// OUTPUT_NAME.out.bin per output.

'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function main() {
  const [modelPath, folder] = process.argv.slice(2);
  if (!modelPath || !folder) {
    console.error('Error: usage: node run.js MODEL.onnx FOLDER (FOLDER holds inputs.json)');
    process.exit(2);
  }
  const inputs = JSON.parse(fs.readFileSync(path.join(folder, 'inputs.json'), 'utf8'));
  const feeds = {};
  for (const input of inputs) {
    const bytes = fs.readFileSync(path.join(folder, input.file));
    // Copy into a fresh, aligned buffer: Buffer slices may start at any byte offset.
    const values = new Float32Array(bytes.byteLength / 4);
    new Uint8Array(values.buffer).set(bytes);
    feeds[input.name] = new ort.Tensor('float32', values, input.shape);
  }
  const session = await ort.InferenceSession.create(modelPath);
  const results = await session.run(feeds);
  const written = [];
  for (const name of session.outputNames) {
    const tensor = results[name];
    const file = `${name}.out.bin`;
    const data = Float32Array.from(tensor.data);
    fs.writeFileSync(path.join(folder, file), Buffer.from(data.buffer));
    written.push({ name, shape: tensor.dims.map(Number), dtype: tensor.type, file });
  }
  const report = {
    runtime: 'onnxruntime-node',
    version: ort.env.versions ? ort.env.versions.node : 'unknown',
    inputNames: session.inputNames,
    outputs: written,
    // Declared shapes, symbolic dimensions as strings: shows the batch axis is dynamic.
    inputMetadata: (session.inputMetadata || []).map((value) => ({ name: value.name, shape: value.shape })),
    outputMetadata: (session.outputMetadata || []).map((value) => ({ name: value.name, shape: value.shape })),
  };
  fs.writeFileSync(path.join(folder, 'outputs.json'), JSON.stringify(report, null, 2));
}

main().catch((error) => {
  console.error(`Error: ${String(error && error.message ? error.message : error).split('\n')[0]}`);
  process.exit(1);
});
