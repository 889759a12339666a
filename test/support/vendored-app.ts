import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A Rack app with its gems vendored, as `bundle package` leaves one: a gem `hello` 1.0.0 built
 * here with `gem build` (no network), in vendor/cache, locked in Gemfile.lock. Its config.ru
 * answers with the gem's text, so a 200 means the gem was installed and loaded.
 */
export const HELLO_TEXT = 'hello from a vendored gem';

export function vendoredApp(tmp: string, name: string, requirement = '= 1.0.0', vendored = true): string {
  const gem = join(tmp, 'hello-gem');
  if (!existsSync(join(gem, 'hello-1.0.0.gem'))) {
    mkdirSync(join(gem, 'lib'), { recursive: true });
    writeFileSync(join(gem, 'lib', 'hello.rb'), `module Hello; TEXT = "${HELLO_TEXT}"; end\n`);
    writeFileSync(
      join(gem, 'hello.gemspec'),
      'Gem::Specification.new { |s| s.name = "hello"; s.version = "1.0.0"; s.summary = "t"; s.authors = ["t"]; ' +
        's.files = ["lib/hello.rb"]; s.license = "MIT" }\n',
    );
    const r = spawnSync('gem', ['build', 'hello.gemspec'], { cwd: gem, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gem build failed: ${r.stderr}`);
  }
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'vendor', 'cache'), { recursive: true });
  writeFileSync(
    join(dir, 'config.ru'),
    'require "hello"\nrun ->(_env) { [200, { "content-type" => "text/plain" }, [Hello::TEXT, "\\n"]] }\n',
  );
  writeFileSync(join(dir, 'Gemfile'), `source "https://rubygems.org"\ngem "hello", "${requirement}"\n`);
  writeFileSync(
    join(dir, 'Gemfile.lock'),
    'GEM\n  remote: https://rubygems.org/\n  specs:\n    hello (1.0.0)\n\nPLATFORMS\n  ruby\n\n' +
      'DEPENDENCIES\n  hello (= 1.0.0)\n\nBUNDLED WITH\n   2.3.7\n',
  );
  if (vendored) copyFileSync(join(gem, 'hello-1.0.0.gem'), join(dir, 'vendor', 'cache', 'hello-1.0.0.gem'));
  return dir;
}
