// Which SQL dialect a migration writes for: the one thing SQLite and PostgreSQL spell
// differently in the schema (the auto-increment host id). Its own file so that the migration
// list (index.ts) and the migrations it lists do not import each other.
export type MigrationDialect = 'sqlite' | 'postgres'
