// The one import of socket.io-client. The dashboard's copy of this module (written by
// client/scripts/build.mjs) takes `io` from the bundle the service serves at
// /socket.io/socket.io.esm.min.js instead: a browser page has no node_modules to resolve from.
export { io } from 'socket.io-client';
