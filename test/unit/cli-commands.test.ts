/**
 * The command table and what is made from it: `netmatrix --help` lists every command, each
 * command's --help lists every flag of its tables (the lab's profile values from
 * LabProfileSchema), and the dispatch finds the longest command name, hands compare its own
 * --help and refuses unknown commands with the usage.
 */
import { describe, expect, it } from 'vitest';
import { commandHelp, commandsHelp, dispatch, UsageError, type Command } from '../../cli/command.js';
import { COMMANDS } from '../../cli/commands.js';
import { LAB_SETTINGS } from '../../lab/flags.js';
import { LabProfileSchema } from '../../shared/lab-profile.js';

function command(name: string): Command {
  const c = COMMANDS.find((x) => x.name === name);
  if (!c) throw new Error(`no command ${name}`);
  return c;
}

function usageError(argv: string[]): string {
  try {
    dispatch(COMMANDS, argv);
  } catch (e) {
    if (e instanceof UsageError) return e.message;
    throw e;
  }
  throw new Error(`dispatch accepted ${argv.join(' ')}`);
}

describe('netmatrix --help', () => {
  it('lists every command with its summary, for no arguments, --help, -h and help', () => {
    const names = COMMANDS.map((c) => c.name);
    expect(names).toEqual(['agent', 'aggregator', 'lab up', 'lab down', 'lab status', 'run', 'compare', 'demo']);
    for (const argv of [[], ['--help'], ['-h'], ['help']]) {
      const d = dispatch(COMMANDS, argv);
      expect(d).toEqual({ kind: 'help', text: commandsHelp(COMMANDS) });
    }
    const text = commandsHelp(COMMANDS);
    expect(text.split('\n')[0]).toBe('usage: netmatrix <command> [flags]');
    for (const c of COMMANDS) {
      expect(text).toContain(`  ${c.name} ${c.args}`.trimEnd());
      expect(text).toContain(c.summary);
    }
  });
});

describe('netmatrix <command> --help', () => {
  it('lists every flag of every table of the command, and each variable', () => {
    for (const c of COMMANDS.filter((x) => !x.ownHelp)) {
      const d = dispatch(COMMANDS, [...c.name.split(' '), '--help']);
      expect(d).toEqual({ kind: 'help', text: commandHelp(c) });
      const text = commandHelp(c);
      expect(text.split('\n')[0]).toBe(`usage: netmatrix ${c.name} ${c.args}`.trimEnd());
      for (const section of c.flags) {
        for (const s of Object.values(section.table)) {
          const line = text.split('\n').find((l) => l.startsWith(`  --${s.flag} `));
          expect(line, `${c.name} --${s.flag}`).toContain(s.help);
          if (s.env) expect(line).toContain(s.env);
        }
      }
    }
  });

  it("gives run, lab up and demo the lab's table, so they take the same flags", () => {
    for (const name of ['run', 'lab up', 'demo']) expect(command(name).flags.map((f) => f.table)).toContain(LAB_SETTINGS);
  });

  it('lists the profile values LabProfileSchema allows, with the default marked', () => {
    const text = commandHelp(command('lab up'));
    const pod = LabProfileSchema.shape.podNetwork.unwrap().options;
    const proxy = LabProfileSchema.shape.serviceProxy.unwrap().options;
    // Each value in the schema's order with its plug-in's description, the default marked.
    expect(text).toMatch(/^ {2}--pod-network +how pods reach each other: direct \([^\n]*; default\), vxlan \([^\n]*\)$/m);
    expect(text).toMatch(
      /^ {2}--service-proxy +how Services are translated: iptables \([^\n]*; default\), nftables \([^\n]*\), ebpf \([^\n]*\)$/m,
    );
    for (const v of [...pod, ...proxy]) expect(text).toContain(`${v} (`);
  });
});

describe('dispatch', () => {
  it('finds two-word commands and passes the remaining words on', () => {
    const d = dispatch(COMMANDS, ['lab', 'up', '--nodes', '2']);
    expect(d.kind === 'run' && d.command.name).toBe('lab up');
    expect(d.kind === 'run' && d.args).toEqual(['--nodes', '2']);
    const r = dispatch(COMMANDS, ['run', '--label', 'x', '--out', 'x.json']);
    expect(r.kind === 'run' && [r.command.name, r.args]).toEqual(['run', ['--label', 'x', '--out', 'x.json']]);
  });

  it('lets compare answer --help itself (its usage and exit codes are its own)', () => {
    const d = dispatch(COMMANDS, ['compare', '--help']);
    expect(d.kind === 'run' && [d.command.name, d.args]).toEqual(['compare', ['--help']]);
  });

  it('names the subcommands of a group given alone, and refuses an unknown command with the usage', () => {
    expect(usageError(['lab'])).toBe('usage: netmatrix lab up|down|status');
    expect(usageError(['lab', 'sideways'])).toBe('usage: netmatrix lab up|down|status');
    expect(usageError(['bogus'])).toBe(`unknown command "bogus"\n${commandsHelp(COMMANDS)}`);
  });
});
