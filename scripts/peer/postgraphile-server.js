// PostGraphile 4 as the API peer on logbook's PostgreSQL schema (public): connection-filter
// with relation filters on; the relations come from the schema's real foreign keys.
// usage: node postgraphile-server.js postgres://postgres@127.0.0.1:5432/DB PORT
// needs: npm install postgraphile@4.14.1 postgraphile-plugin-connection-filter@2
const http = require("http");
const { postgraphile } = require("postgraphile");
const ConnectionFilterPlugin = require("postgraphile-plugin-connection-filter");
const [url, port = "5055"] = process.argv.slice(2);
http
  .createServer(
    postgraphile(url, "public", {
      appendPlugins: [ConnectionFilterPlugin],
      graphileBuildOptions: { connectionFilterRelations: true },
      dynamicJson: true,
      disableQueryLog: true,
      setofFunctionsContainNulls: false,
    })
  )
  .listen(Number(port), "127.0.0.1", () => console.log(`postgraphile on 127.0.0.1:${port}`));
