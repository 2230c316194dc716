import { definePlugin } from '@outpost/plugin-sdk';

interface Config {
  greeting: string;
}

export default definePlugin<Config>({
  async collect(ctx) {
    // Remember how many times we ran, even across agent restarts.
    const runs = ((await ctx.state.get<number>('runs')) ?? 0) + 1;
    await ctx.state.set('runs', runs);
    ctx.log.info('saying hello', { runs });
    return [
      { kind: 'metric', name: 'hello.runs', value: runs, unit: '1' },
      { kind: 'log', name: 'hello.greeting', body: `${ctx.config.greeting} #${runs}` },
    ];
  },
});
