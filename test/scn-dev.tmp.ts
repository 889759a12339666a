import { runScenario } from '../lab/scenarios/runner';
import { CATALOGUE } from '../lab/scenarios/catalogue';
import { formatResult } from '../lab/scenarios/format';
async function main() {
  const [name, flavour] = process.argv.slice(2);
  const s = CATALOGUE.find((x) => x.name === name)!;
  const r = await runScenario(s, flavour as 'precise' | 'bookworm', { image: `upstart-unicorn-lab/${flavour}:latest` });
  console.log(formatResult(r));
}
main();
