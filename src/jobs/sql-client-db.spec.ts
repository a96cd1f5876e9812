import { sqlTestBackends, type SqlTestDatabase } from '../database/sql-test-backends';
import { SqlClientDb } from './sql-client-db';

// PGlite starts in a few seconds.
jest.setTimeout(30_000);

describe.each(sqlTestBackends())('SqlClientDb on $name', (backend) => {
  let db: SqlTestDatabase;

  beforeEach(async () => {
    db = await backend.open();
  });
  afterEach(() => db.dispose());
  afterAll(() => backend.shutdown());

  it('runs queries with parameters and returns their rows', async () => {
    await expect(new SqlClientDb(db.client).executeSql('SELECT $1::int + 1 AS n', [41])).resolves.toEqual({ rows: [{ n: 42 }] });
  });

  it("runs pg-boss's BEGIN; ...; COMMIT; blocks as one transaction, rolled back when a statement fails", async () => {
    const adapter = new SqlClientDb(db.client);
    await db.client.query('CREATE TABLE t (n int)');
    await expect(adapter.executeSql('\n BEGIN;\n INSERT INTO t VALUES (1);\n SELECT 1/0;\n COMMIT;\n')).rejects.toThrow('division by zero');
    // Left in an aborted transaction, PGlite's one connection would fail every query after this.
    expect(await db.client.query('SELECT count(*) AS n FROM t')).toEqual([{ n: 0 }]);
    await adapter.executeSql('BEGIN; INSERT INTO t VALUES (2); COMMIT;');
    expect(await db.client.query('SELECT n FROM t')).toEqual([{ n: 2 }]);
  });
});
