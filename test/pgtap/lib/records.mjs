// test/pgtap/lib/records.mjs N
//	Writes N newline-delimited JSON records of about 260 bytes to standard
//	output: test data generated where it is needed instead of committed.
const n = Number(process.argv[2] ?? 1000);
const pad = "x".repeat(200);
let s = "";
for (let i = 0; i < n; i++) {
  s += `{"i":${i},"device_id":"dev-${i % 1000}","pad":"${pad}"}\n`;
  if (s.length > 1 << 20) {
    process.stdout.write(s);
    s = "";
  }
}
process.stdout.write(s);
