/**
 * The shipped Linux gnu binary's glibc floor: every GLIBC_x.y symbol version it needs (read from
 * its ELF .gnu.version_r section, here in TypeScript: no binutils needed) is at most the floor in
 * scripts/glibc-floor.json, which `npm run build:native` links against (scripts/build-native.mjs).
 * A binary linked against this machine's newer glibc (2.34+) fails here. THINNET_NATIVE_BINARY
 * names another binary to check (the release workflow checks each gnu target it builds).
 */

import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { hostPlatform } from '../ts/backends/native-loader.js'

const FLOOR = (JSON.parse(readFileSync(new URL('../scripts/glibc-floor.json', import.meta.url), 'utf8')) as { glibc: string }).glibc
const binary = process.env.THINNET_NATIVE_BINARY
  ? new URL(`file://${resolve(process.env.THINNET_NATIVE_BINARY)}`)
  : new URL(`../build/thinnet.${hostPlatform()}.node`, import.meta.url)
const platform = /thinnet\.([\w-]+)\.node$/.exec(binary.pathname)?.[1] ?? hostPlatform()

/** The version names an ELF64 little-endian shared object requires (Verneed/Vernaux entries). */
export function requiredVersions(elf: Buffer): string[] {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) throw new Error('not a 64-bit little-endian ELF file')
  const shoff = Number(elf.readBigUInt64LE(0x28))
  const shentsize = elf.readUInt16LE(0x3a)
  const shnum = elf.readUInt16LE(0x3c)
  const section = (i: number) => {
    const at = shoff + i * shentsize
    return {
      type: elf.readUInt32LE(at + 4),
      offset: Number(elf.readBigUInt64LE(at + 0x18)),
      link: elf.readUInt32LE(at + 0x28),
      info: elf.readUInt32LE(at + 0x2c),
    }
  }
  const SHT_GNU_VERNEED = 0x6ffffffe
  const names: string[] = []
  for (let i = 0; i < shnum; i++) {
    const verneed = section(i)
    if (verneed.type !== SHT_GNU_VERNEED) continue
    const strtab = section(verneed.link).offset
    const string = (at: number) => elf.toString('latin1', strtab + at, elf.indexOf(0, strtab + at))
    let need = verneed.offset
    for (let n = 0; n < verneed.info; n++) {
      const count = elf.readUInt16LE(need + 2)
      let aux = need + elf.readUInt32LE(need + 8)
      for (let k = 0; k < count; k++) {
        names.push(string(elf.readUInt32LE(aux + 8)))
        aux += elf.readUInt32LE(aux + 12)
      }
      need += elf.readUInt32LE(need + 12)
    }
  }
  return names
}

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

describe.runIf(platform.endsWith('-gnu'))(`the ${platform} binary's glibc floor`, () => {
  it('reads the versions a binary needs (Node itself, which needs glibc 2.28 or newer)', () => {
    const node = requiredVersions(readFileSync(process.execPath)).filter((v) => v.startsWith('GLIBC_'))
    expect(node.length).toBeGreaterThan(3)
    expect(node.some((v) => compareVersions(v.slice(6), '2.17') > 0)).toBe(true)
  })

  it(`needs no glibc newer than ${FLOOR}`, () => {
    const versions = requiredVersions(readFileSync(binary)).filter((v) => v.startsWith('GLIBC_'))
    expect(versions.length).toBeGreaterThan(0)
    const newest = versions
      .map((v) => v.slice('GLIBC_'.length))
      .sort(compareVersions)
      .at(-1)!
    expect(compareVersions(newest, FLOOR), `${binary.pathname} needs GLIBC_${newest}`).toBeLessThanOrEqual(0)
  })
})
