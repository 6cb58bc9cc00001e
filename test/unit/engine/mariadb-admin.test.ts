import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { keepOfficialAdminAccounts } from '../../../controller/engine/mariadb/admin.js';

/** A connection that answers the account listing and records every other statement. */
function fakeConnection(accounts: { User: string; Host: string }[]) {
  const statements: string[] = [];
  const connection = {
    escape: (value: string) => mysql.escape(value),
    query: async (sql: string) => {
      if (sql.startsWith('SELECT')) return [accounts];
      statements.push(sql);
      return [[]];
    },
  } as unknown as mysql.Connection;
  return { connection, statements };
}

describe('the admin accounts of an import server and a clone', () => {
  it("keeps root@localhost and root@'%' with the new password; drops the others an image or install-db left", async () => {
    const { connection, statements } = fakeConnection([
      { User: 'root', Host: 'localhost' },
      { User: 'root', Host: '%' },
      { User: 'root', Host: '127.0.0.1' },
      { User: 'root', Host: '::1' },
      { User: 'root', Host: '00e9e5ad4b8b' },
      { User: '', Host: 'localhost' },
    ]);
    await keepOfficialAdminAccounts(connection, 'root', "pw'x");
    expect(statements).toEqual([
      "ALTER USER 'root'@'localhost' IDENTIFIED BY 'pw\\'x'",
      "ALTER USER 'root'@'%' IDENTIFIED BY 'pw\\'x'",
      "DROP USER 'root'@'127.0.0.1'",
      "DROP USER 'root'@'::1'",
      // --skip-name-resolve ignores it: ALTER USER fails there, DROP USER does not.
      "DROP USER 'root'@'00e9e5ad4b8b'",
      "DROP USER ''@'localhost'",
    ]);
  });
});
