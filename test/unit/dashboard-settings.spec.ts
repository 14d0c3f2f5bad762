import { describe, expect, it } from '@jest/globals';
import { type CanActivate } from '@nestjs/common';
import { QueueOptionsError } from '../../src/index.js';
import { defaultActor, resolveDashboardSettings } from '../../src/dashboard/dashboard-settings.js';
import { parseMessageSearch } from '../../src/dashboard/message-search.js';
import { thrownBy } from '../support/thrown-by.js';

class AdminGuard implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}

describe('the dashboard options', () => {
  it('require a guard unless public, and say what to do', () => {
    const error = thrownBy(() => resolveDashboardSettings({}), QueueOptionsError);
    expect(error.option).toBe('dashboard.guard');
    expect(error.rule).toContain('guard: AdminGuard');
    expect(error.rule).toContain('public: true');
    expect(
      thrownBy(() => resolveDashboardSettings({ public: false }), QueueOptionsError).option,
    ).toBe('dashboard.guard');
    const open = resolveDashboardSettings({ public: true });
    expect(open).toMatchObject({ path: 'queues', isPublic: true, guard: undefined });
    expect(resolveDashboardSettings({ guard: AdminGuard, path: '/ops/queues/' })).toMatchObject({
      path: 'ops/queues',
      isPublic: false,
      guard: AdminGuard,
    });
  });

  it('refuse a path that is not URL segments', () => {
    for (const path of ['a b', 'a//b', '../x', 'q?x=1']) {
      expect(
        thrownBy(() => resolveDashboardSettings({ guard: AdminGuard, path }), QueueOptionsError)
          .option,
      ).toBe('dashboard.path');
    }
  });

  it('decide read-only per request, and the actor from the guard’s user', () => {
    const request = { headers: {}, user: { email: 'ops@example.com', roles: ['viewer'] } };
    const viewer = resolveDashboardSettings({
      guard: AdminGuard,
      readOnly: (r) => ((r.user as { roles: string[] }).roles ?? []).includes('viewer'),
    });
    expect(viewer.readOnly(request)).toBe(true);
    expect(viewer.readOnly({ headers: {}, user: { roles: [] } })).toBe(false);
    expect(resolveDashboardSettings({ guard: AdminGuard }).readOnly(request)).toBe(false);
    expect(resolveDashboardSettings({ guard: AdminGuard, readOnly: true }).readOnly(request)).toBe(
      true,
    );
    expect(viewer.actor(request)).toBe('ops@example.com');
    const custom = resolveDashboardSettings({ guard: AdminGuard, actor: () => 'from-header' });
    expect(custom.actor(request)).toBe('from-header');
    expect(defaultActor({ headers: {}, user: { username: 'alice', email: 'a@x' } })).toBe('alice');
    expect(defaultActor({ headers: {}, user: { sub: 42 } })).toBe('42');
    expect(defaultActor({ headers: {}, user: { id: '', name: 'Bob' } })).toBe('Bob');
    expect(defaultActor({ headers: {} })).toBe('anonymous');
    expect(defaultActor({ headers: {}, user: 'alice' })).toBe('anonymous');
  });
});

describe('the queue page search', () => {
  it('reads an id, a field=value, a dotted path, or a JSON object', () => {
    expect(parseMessageSearch('  ')).toBeUndefined();
    expect(parseMessageSearch('01a2-b3')).toEqual({ kind: 'id', id: '01a2-b3' });
    expect(parseMessageSearch('customer=acme')).toEqual({
      kind: 'body',
      json: '{"customer":"acme"}',
    });
    expect(parseMessageSearch('order.total=42')).toEqual({
      kind: 'body',
      json: '{"order":{"total":42}}',
    });
    expect(parseMessageSearch('flag=true')).toEqual({ kind: 'body', json: '{"flag":true}' });
    expect(parseMessageSearch('{"a":[1]}')).toEqual({ kind: 'body', json: '{"a":[1]}' });
    expect(parseMessageSearch('{"a":')?.kind).toBe('invalid');
    expect(parseMessageSearch('{}x')?.kind).toBe('invalid');
    expect(parseMessageSearch('a..b=1')?.kind).toBe('invalid');
    expect(parseMessageSearch('x'.repeat(2001))?.kind).toBe('invalid');
  });
});
