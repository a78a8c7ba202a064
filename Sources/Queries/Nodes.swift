import GRDB
import Store

/// The hosts the database holds records of, so `--node` naming none of them is told so
/// instead of answered "nothing on record".
public enum Nodes {
    /// Node names seen in the audit logs (`node=` prefixes) and kernel logs, sorted. The
    /// unnamed node (logs without `node=`) is not listed.
    public static func known(in store: SignalStore) throws(StoreError) -> [String] {
        try store.read { db in
            try String.fetchAll(db, sql: """
                SELECT DISTINCT CAST(value AS TEXT) FROM strings
                WHERE id IN (SELECT node_id FROM node_spans UNION SELECT node_id FROM kernel_kill_events
                             UNION SELECT node_id FROM systemd_actions)
                  AND value != CAST('' AS BLOB) AND value != ''
                ORDER BY 1
                """)
        }
    }
}
