import type { Command, Option } from "commander";
import { UsageError } from "../errors.js";
import type { Context } from "../context.js";
import { action, examples } from "./common.js";

/** Verbs whose arguments are task names, completed from `taskctl list -o name`. */
const TASK_NAME_VERBS = new Set(["get", "logs", "stop", "delete", "rm"]);

function flags(options: readonly Option[]): string[] {
  return options.flatMap((option) => [option.short, option.long].filter((flag): flag is string => Boolean(flag)));
}

function valueFlags(options: readonly Option[]): string[] {
  return flags(options.filter((option) => option.required || option.optional));
}

/** A bash completion script generated from the verbs and flags of the program. */
export function bashCompletion(program: Command): string {
  const globals = program.options;
  const verbs = program.commands.filter((command) => command.name() !== "help");
  const names = verbs.flatMap((command) => [command.name(), ...command.aliases()]);
  const cases = verbs
    .map((command) => {
      const words = [...flags(command.options), ...flags(globals), "--help", ...command.commands.map((sub) => sub.name())].join(" ");
      const dynamic = TASK_NAME_VERBS.has(command.name()) ? ` $(taskctl "\${global_args[@]}" list -o name 2>/dev/null | sed 's,^task/,,')` : "";
      return `    ${[command.name(), ...command.aliases()].join("|")}) words="${words}${dynamic}" ;;`;
    })
    .join("\n");
  return `# bash completion for taskctl: source <(taskctl completion bash)
_taskctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" verb="" words="" i
  local -a global_args=()
  case "$prev" in
    ${[...valueFlags(globals), ...new Set(verbs.flatMap((command) => valueFlags(command.options)))].join("|")}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in
      ${valueFlags(globals).join("|")}) global_args+=("\${COMP_WORDS[i]}" "\${COMP_WORDS[i+1]}"); i=$((i + 1)) ;;
      --cluster) global_args+=("\${COMP_WORDS[i]}") ;;
      -*) ;;
      *) verb="\${COMP_WORDS[i]}"; break ;;
    esac
  done
  case "$verb" in
    "") words="${names.join(" ")} ${flags(globals).join(" ")} --help" ;;
${cases}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _taskctl taskctl
`;
}

/** zsh runs the bash script through bashcompinit. */
export function zshCompletion(program: Command): string {
  return `#compdef taskctl
# zsh completion for taskctl: source <(taskctl completion zsh)
autoload -U +X compinit && compinit
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(program).split("\n").slice(1).join("\n")}`;
}

async function completion(context: Context, _options: object, shell: string, program: Command): Promise<void> {
  if (shell === "bash") context.out(bashCompletion(program));
  else if (shell === "zsh") context.out(zshCompletion(program));
  else throw new UsageError(`completion supports bash and zsh, not '${shell}'`);
}

export function registerCompletion(program: Command): void {
  const command = program
    .command("completion")
    .description("print a shell completion script (bash or zsh)")
    .argument("<shell>", "bash or zsh")
    .action(action<object, [string]>((context, options, shell) => completion(context, options, shell, program)));
  examples(command, ["source <(taskctl completion bash)", "taskctl completion zsh > \"${fpath[1]}/_taskctl\""]);
}
