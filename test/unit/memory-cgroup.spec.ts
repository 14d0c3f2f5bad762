import { describe, expect, it } from '@jest/globals';
import { memoryCgroupPlace } from '../../bench/memory-cgroup.js';

describe('memoryCgroupPlace', () => {
  it('finds the v1 memory hierarchy among the controllers, before the v2 line', () => {
    const proc = ['9:name=systemd:/', '4:memory:/pods/abc', '1:cpu,cpuacct:/', '0::/'].join('\n');
    expect(memoryCgroupPlace(proc, 'memory pids')).toEqual({ version: 1, path: '/pods/abc' });
  });

  it('finds a v1 memory controller mounted together with another', () => {
    expect(memoryCgroupPlace('5:cpu,memory:/x\n', undefined)).toEqual({ version: 1, path: '/x' });
  });

  it('takes the v2 line only when the v2 mount offers the memory controller', () => {
    const proc = '0::/user.slice/session-1.scope\n';
    expect(memoryCgroupPlace(proc, 'cpuset cpu io memory pids\n')).toEqual({
      version: 2,
      path: '/user.slice/session-1.scope',
    });
    expect(memoryCgroupPlace(proc, 'cpu io pids\n')).toBeUndefined();
    expect(memoryCgroupPlace(proc, undefined)).toBeUndefined();
  });

  it('finds nothing in text that is not /proc/self/cgroup', () => {
    expect(memoryCgroupPlace('', 'memory')).toBeUndefined();
    expect(memoryCgroupPlace('not a cgroup line', 'memory')).toBeUndefined();
  });
});
