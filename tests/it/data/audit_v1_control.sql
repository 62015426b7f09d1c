-- control.db of an ooda before schema 3 (audit hash version 1): sqlite3 .dump, user_version 2.
-- Token alice (admin) has the secret in test_audit.py; the audit key is there too.
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE tokens(  id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,  env TEXT NOT NULL DEFAULT '', hash BLOB NOT NULL UNIQUE,  created_ns INTEGER NOT NULL, created_by TEXT NOT NULL,  revoked_ns INTEGER NOT NULL DEFAULT 0);
INSERT INTO tokens VALUES('tok_790f307957e15f71','alice','admin','',X'c15529bafb5e0728018be7a0f4ed91abdb307d0ff8188ad7fefdeb863c0aa931',1796495749635757936,'cli:root',0);
INSERT INTO tokens VALUES('tok_80d9fa2b4ec90f0f','collector','ingest','',X'ee9e0fe3b065c5d8ff9c5853bdc254aca85c4b5340166d498db0ae33fea4e856',1796495749758285234,'cli:root',1796495749888336519);
INSERT INTO tokens VALUES('tok_4d96014d771534ff','svc','ingest','',X'150ff10aff9b268fa4c7a1ba0d4303a73510ff7e530cf0ac028b322efe575032',1796495751840597723,'token:alice',0);
CREATE TABLE audit(  seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, actor TEXT NOT NULL,  action TEXT NOT NULL, target TEXT NOT NULL, before_digest TEXT NOT NULL,  after_digest TEXT NOT NULL, rationale TEXT NOT NULL, detail TEXT,  prev_hash BLOB NOT NULL, hash BLOB NOT NULL);
INSERT INTO audit VALUES(1,1796495749635955524,'cli:root','token.create','token/tok_790f307957e15f71','','2e5501f68ef8137d4d0f2ab339d6cbff76395adee2a1a086e369f4357ff9fcdf','','{"id":"tok_790f307957e15f71","name":"alice","role":"admin","env":"","created":"2026-12-05T18:35:49.635Z","created_by":"cli:root","revoked":null}',X'0000000000000000000000000000000000000000000000000000000000000000',X'db3a39d4975ab7a9a934b42b33ab07dcc7a366471890c5d67f8a4e56582f3063');
INSERT INTO audit VALUES(2,1796495749758520995,'cli:root','token.create','token/tok_80d9fa2b4ec90f0f','','d83d7af3866fe6a80398808d9b3daee1be6eb18b1c147c84b0d0538e2ae4cd8d','old collector','{"id":"tok_80d9fa2b4ec90f0f","name":"collector","role":"ingest","env":"","created":"2026-12-05T18:35:49.758Z","created_by":"cli:root","revoked":null}',X'db3a39d4975ab7a9a934b42b33ab07dcc7a366471890c5d67f8a4e56582f3063',X'a68225fa331146cdbe661a3f1ad3bc64e44aa8101721fcbb1b3dae1671bff4a3');
INSERT INTO audit VALUES(3,1796495749888521081,'cli:root','token.revoke','token/tok_80d9fa2b4ec90f0f','','3b44aa1cf1cb8936dfd98f7d9b8d0d8f64c3c7f45980ee23e16b051ad9873818','rotated',NULL,X'a68225fa331146cdbe661a3f1ad3bc64e44aa8101721fcbb1b3dae1671bff4a3',X'b3fa5a819d8d0b806d75bb0e6f4d728e5547fb69ebb40dbe15565dd07679c77e');
INSERT INTO audit VALUES(4,1796495751687594343,'token:alice','audit.checkpoint','audit','','','checkpoint requested',NULL,X'b3fa5a819d8d0b806d75bb0e6f4d728e5547fb69ebb40dbe15565dd07679c77e',X'a74d5a3e75a95feb4c4230f796317f7e47709fb87a69d586caa56ad833d031dd');
INSERT INTO audit VALUES(5,1796495751840974373,'token:alice','token.create','token/tok_4d96014d771534ff','','72ff42665a55c0468a1f393f256b98cfe0eafdf531630b4f6ec1b41605810cb8','from api','{"id":"tok_4d96014d771534ff","name":"svc","role":"ingest","env":"","created":"2026-12-05T18:35:51.840Z","created_by":"token:alice","revoked":null}',X'a74d5a3e75a95feb4c4230f796317f7e47709fb87a69d586caa56ad833d031dd',X'80de2bf8311c81acfe3cde858389af5994eb262cd0a7d3e6ea6e0229ba75ac92');
CREATE TABLE audit_checkpoints(  seq INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, hash BLOB NOT NULL,  signature BLOB NOT NULL, pubkey BLOB NOT NULL);
INSERT INTO audit_checkpoints VALUES(4,1796495751689153853,X'a74d5a3e75a95feb4c4230f796317f7e47709fb87a69d586caa56ad833d031dd',X'f1fcb02b32db80093e7750ea601f1af76461d28e4a16f317e7548c05a85f1cc350a6abc6dd76a1f22da8e890f3cd62dc8a1f9e4fa9a9bbe835e2f71fc2160006',X'135866d1903c0d1820f873f46276dfc300e57309b6527b2732cecf894240fee2');
CREATE TABLE docs(  kind TEXT NOT NULL, key TEXT NOT NULL, version INTEGER NOT NULL,  time_ns INTEGER NOT NULL, author TEXT NOT NULL, rationale TEXT NOT NULL,  body TEXT NOT NULL, deleted INTEGER NOT NULL DEFAULT 0,  PRIMARY KEY(kind, key, version)) WITHOUT ROWID;
CREATE TABLE pattern_snapshots(  service TEXT PRIMARY KEY, saved_ns INTEGER NOT NULL, lines INTEGER NOT NULL,  snapshot BLOB NOT NULL, severities BLOB NOT NULL);
CREATE INDEX audit_time ON audit(time_ns);
CREATE INDEX audit_actor ON audit(actor, seq);
CREATE INDEX audit_target ON audit(target, seq);
PRAGMA user_version = 2;
COMMIT;
