import { describe, expect, it } from 'vitest';
import { isPrivateAddress, refusedAddress } from './target-address.js';

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '10.1.2.3',
    '172.16.0.1',
    '192.168.1.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::',
    '::1',
    '::7f00:1', // IPv4-compatible 127.0.0.1
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '64:ff9b::a00:1', // NAT64 10.0.0.1
    '2002:7f00:1::', // 6to4 127.0.0.1
    'fc00::1',
    'fd12:3456::1',
    'fec0::1',
    'fe80::1',
    'ff02::1',
    'not an address',
  ])('refuses %s', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(['8.8.8.8', '93.184.216.34', '203.0.113.10', '::ffff:8.8.8.8', '2001:4860:4860::8888'])('allows %s', (address) => {
    expect(isPrivateAddress(address)).toBe(false);
  });

  it('checks literal hosts as URLs give them (IPv6 in brackets), and leaves names to the lookup', () => {
    expect(refusedAddress('[::1]', false)).toMatch(/private, loopback or link-local/);
    expect(refusedAddress(new URL('http://[::ffff:127.0.0.1]/').hostname, false)).toBeDefined();
    expect(refusedAddress('127.0.0.1', true)).toBeUndefined();
    expect(refusedAddress('example.com', false)).toBeUndefined();
  });
});
