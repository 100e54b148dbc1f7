-- A hedgebot store as written by the code of commit 45bf8d1 (schema 1, before the migration list):
-- intents (one filled, one unknown), an order update, a fill, funding, meta keys, an event, a command.
BEGIN TRANSACTION;
CREATE TABLE commands (
  id TEXT PRIMARY KEY, ts REAL NOT NULL, command TEXT NOT NULL, status TEXT NOT NULL,
  body TEXT NOT NULL);
INSERT INTO "commands" VALUES('c1',4.0,'pause','ok','{"command": "pause"}');
CREATE TABLE decisions (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, block INTEGER NOT NULL, action TEXT NOT NULL,
  reason TEXT NOT NULL, body TEXT NOT NULL);
CREATE TABLE events (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL);
INSERT INTO "events" VALUES(1,3.0,'alert','{"alert": "risk.stale", "message": "x"}');
CREATE TABLE fills (
  trade_id TEXT PRIMARY KEY, ts INTEGER NOT NULL, client_order_id TEXT NOT NULL,
  body TEXT NOT NULL);
INSERT INTO "fills" VALUES('t1',1500,'hb-aaaa-10-1','{"amount_base": "0.5", "client_order_id": "hb-aaaa-10-1", "exchange_order_id": "1", "fee_quote": "0.4", "price": "2000", "realized_pnl": "0", "side": "sell", "symbol": "ETH/USDT:USDT", "timestamp": 1500, "trade_id": "t1"}');
CREATE TABLE funding (
  id TEXT PRIMARY KEY, ts INTEGER NOT NULL, amount_quote TEXT NOT NULL, body TEXT NOT NULL);
INSERT INTO "funding" VALUES('f1',2000,'0.2','{"amount_quote": "0.2", "id": "f1", "mark_price": "2000", "position_base": "-0.5", "rate": "0.0001", "symbol": "ETH/USDT:USDT", "timestamp": 2000}');
CREATE TABLE intents (
  client_order_id TEXT PRIMARY KEY, ts REAL NOT NULL, block INTEGER NOT NULL,
  status TEXT NOT NULL, body TEXT NOT NULL);
INSERT INTO "intents" VALUES('hb-aaaa-10-1',1.0,10,'filled','{"amount_base": "0.5", "client_order_id": "hb-aaaa-10-1", "limit_price": "1990", "reduce_only": false, "side": "sell", "symbol": "ETH/USDT:USDT"}');
INSERT INTO "intents" VALUES('hb-aaaa-11-2',2.0,11,'unknown','{"amount_base": "0.2", "client_order_id": "hb-aaaa-11-2", "limit_price": "2010", "reduce_only": true, "side": "buy", "symbol": "ETH/USDT:USDT"}');
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO "meta" VALUES('schema_version','1');
INSERT INTO "meta" VALUES('paused','1');
INSERT INTO "meta" VALUES('flattening','0');
INSERT INTO "meta" VALUES('hedge_ratio','0.8');
INSERT INTO "meta" VALUES('threshold','0.3|');
INSERT INTO "meta" VALUES('position_baseline_base','-0.25');
INSERT INTO "meta" VALUES('fills_since_ms','1501');
INSERT INTO "meta" VALUES('funding_since_ms','2001');
INSERT INTO "meta" VALUES('risk_day','2024-01-02');
INSERT INTO "meta" VALUES('risk_day_start_net','-12.5');
CREATE TABLE order_updates (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, client_order_id TEXT NOT NULL,
  status TEXT NOT NULL, filled_base TEXT NOT NULL, body TEXT NOT NULL);
INSERT INTO "order_updates" VALUES(1,1.5,'hb-aaaa-10-1','filled','0.5','{"amount_base": "0.5", "average_price": "2000", "client_order_id": "hb-aaaa-10-1", "exchange_order_id": "1", "fee_quote": "0.4", "filled_base": "0.5", "reduce_only": false, "side": "sell", "status": "filled", "symbol": "ETH/USDT:USDT", "timestamp": 1500}');
CREATE TABLE snapshots (
  id INTEGER PRIMARY KEY, ts REAL NOT NULL, block INTEGER NOT NULL, price TEXT NOT NULL,
  delta_base TEXT NOT NULL, body TEXT NOT NULL);
COMMIT;
