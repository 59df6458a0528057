// Runs transform.sql on a JSONL export with DuckDB (2 threads unless told otherwise) and prints
// the seconds it took and the row counts as one JSON line. Usage: node run.mjs USERS.jsonl [THREADS]
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdirSync, readFileSync } from 'node:fs';

const [src, threads = '2'] = process.argv.slice(2);
if (!src) {
  console.error('usage: node run.mjs USERS.jsonl [THREADS]');
  process.exit(2);
}
mkdirSync('out', { recursive: true });
const instance = await DuckDBInstance.create(':memory:', { threads });
const con = await instance.connect();
await con.run(`SET VARIABLE src = '${src.replaceAll("'", "''")}'`);
const start = Date.now();
const sql = readFileSync(new URL('./transform.sql', import.meta.url), 'utf8').replace(/^--.*$/gm, '');
for (const stmt of sql.split(';').map((s) => s.trim()).filter(Boolean)) {
  await con.run(stmt);
}
const counts = await con.runAndReadAll(
  'SELECT (SELECT count(*) FROM m) AS memberships, (SELECT count(*) FROM m WHERE rn = 1) AS members');
console.log(JSON.stringify({ seconds: (Date.now() - start) / 1000, ...counts.getRowObjectsJson()[0] }));
