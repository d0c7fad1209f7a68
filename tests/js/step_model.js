// Steps magenta.js's SketchRNN (@magenta/sketch, TensorFlow.js's CPU backend in Node) along drawings and prints
// what it predicts after each row, for tests/test_export_js.py to compare with the project's model.
//
//   NODE_PATH=<npm prefix>/node_modules node tests/js/step_model.js JOBS.json
//
// JOBS.json: [{"model": "pig.gen.json", "rows": [[dx, dy, p1, p2, p3], ...]}, ...], rows in stroke-5 with offsets
// already divided by the model's scale_factor, the first row (0, 0, 1, 0, 0). Prints one JSON array on stdout,
// per job {"pi", "mu_x", "mu_y", "sigma_x", "sigma_y", "rho", "pen"}: one list per row (M values, 3 for pen),
// magenta.js's getPDF at temperature 1 (sigma unscaled, softmaxes undivided).
"use strict";
console.log = console.error;  // TensorFlow.js greets Node users on stdout: keep stdout for the result
const fs = require("fs");
const { SketchRNN } = require("@magenta/sketch");

function step(job) {
  const [info, dims, weights] = JSON.parse(fs.readFileSync(job.model, "utf8"));
  const model = new SketchRNN(job.model);
  model.instantiateFromJSON(info, dims, weights);  // what initialize() does with the fetched file
  model.setPixelFactor(info.scale_factor);  // update() divides offsets by scale_factor / pixelFactor = 1
  const result = { pi: [], mu_x: [], mu_y: [], sigma_x: [], sigma_y: [], rho: [], pen: [] };
  const mixtures = model.NMIXTURE;
  let state = model.zeroState();
  for (const row of job.rows) {
    state = model.update(row, state);
    const pdf = model.getPDF(state, 1.0, 1.0);
    result.pi.push(Array.from(pdf.pi));
    result.mu_x.push(Array.from(pdf.muX));
    result.mu_y.push(Array.from(pdf.muY));
    result.sigma_x.push(Array.from(pdf.sigmaX));
    result.sigma_y.push(Array.from(pdf.sigmaY.slice(0, mixtures)));  // 0.2.0 slices sigmaY too long: first M are it
    result.rho.push(Array.from(pdf.corr));
    result.pen.push(Array.from(pdf.pen));
  }
  model.dispose();
  return result;
}

const jobs = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
process.stdout.write(JSON.stringify(jobs.map(step)) + "\n");
