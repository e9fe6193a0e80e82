// Validate GLB files with Khronos glTF-Validator; print one JSON report per file on stdout.
// Usage: node validate_gltf.mjs FILE.glb [...]   Exit code 0 even when a file has errors:
// the caller reads the reports (issues.numErrors, issues.messages).
import { readFile } from "node:fs/promises";
import validator from "gltf-validator";

const reports = [];
for (const path of process.argv.slice(2)) {
  const data = new Uint8Array(await readFile(path));
  const report = await validator.validateBytes(data, {
    uri: path,
    maxIssues: 100,
    externalResourceFunction: (uri) => Promise.reject(new Error(`external resource ${uri}`)),
  });
  reports.push({ path, issues: report.issues, info: report.info });
}
process.stdout.write(JSON.stringify(reports));
