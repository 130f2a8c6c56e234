import { ConfigurationError, Problems } from '../../lib/private/validation';

describe('Problems', () => {
  test('records what a construct refuses under the names the user wrote', () => {
    const problems = new Problems();

    const built = problems.capture(
      'tls.setup.',
      () => {
        throw new ConfigurationError('setup', ['maxTtl: "1h" is short', 'rootTtl: "2h" is short']);
      },
      { maxTtl: 'tls.maxDuration' },
    );

    expect(built).toBeUndefined();
    expect(problems.all).toEqual([
      'tls.maxDuration: "1h" is short',
      'tls.setup.rootTtl: "2h" is short',
    ]);
  });

  test('lets a fault that is not a problem of the input through', () => {
    const problems = new Problems();

    expect(() =>
      problems.capture('tls.', () => {
        throw new Error('asset not found');
      }),
    ).toThrow('asset not found');
    expect(problems.count).toBe(0);
  });
});
